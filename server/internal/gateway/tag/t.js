/*
 * Baton first-party tag. A shop adds, on its landing and thank-you pages:
 *
 *   <script src="https://BATON/t.js" async></script>
 *
 * On a landing page it finds Baton's click ID in the URL (in whatever
 * parameter the offer passes it: a value with the click ID's form, checked by
 * Baton) and keeps it in a first-party cookie on the shop's own site, with
 * localStorage as a fallback, until the offer's attribution window ends.
 *
 * On a thank-you page it finds the FC2 image tags pointing at this Baton and
 * sends each one again with the click ID (click_id) and via=t.js: the same
 * sale, now attributable without a third-party cookie. It never reports a
 * sale the shop's own tag did not; Baton counts the tag and its copy once.
 *
 * No dependencies, no requests to anyone but Baton, nothing global but
 * window.BatonTag (for tests and debugging), and no errors thrown to the page.
 */
(function () {
  'use strict';
  var KEY = 'baton_cid';
  // Click IDs: 29 characters of lower-case Crockford base32; the first ten
  // hold (with two spare bits) the click's time in milliseconds.
  var ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';
  var ID = /^[0-9a-hjkmnp-tv-z]{29}$/;
  var MAX_AGE_MS = 400 * 24 * 3600 * 1000;

  function base() {
    var s = document.currentScript;
    var src = (s && s.src) || '';
    if (!src) {
      var all = document.getElementsByTagName('script');
      for (var i = 0; i < all.length; i++) {
        if (/\/t\.js(\?|#|$)/.test(all[i].src || '')) src = all[i].src;
      }
    }
    try {
      return new URL(src, location.href).origin;
    } catch (e) {
      return '';
    }
  }

  // clickTime returns the milliseconds a click ID encodes, or -1.
  function clickTime(id) {
    if (!ID.test(id)) return -1;
    var ms = 0;
    for (var i = 0; i < 10; i++) ms = ms * 32 + ALPHABET.indexOf(id.charAt(i));
    return Math.floor(ms / 4); // 50 bits read, 48 bits of time
  }

  function plausible(id, now) {
    var t = clickTime(id);
    return t > 0 && t <= now + 86400000 && t >= now - MAX_AGE_MS;
  }

  // fromURL returns the click IDs found among the page URL's parameters.
  function fromURL(href, now) {
    var out = [];
    var u;
    try {
      u = new URL(href);
    } catch (e) {
      return out;
    }
    u.searchParams.forEach(function (v) {
      if (plausible(v, now) && out.indexOf(v) < 0) out.push(v);
    });
    return out;
  }

  function readCookie() {
    var parts = document.cookie ? document.cookie.split(/;\s*/) : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf('=');
      if (eq > 0 && parts[i].slice(0, eq) === KEY) return decodeURIComponent(parts[i].slice(eq + 1));
    }
    return '';
  }

  // The stored value is "<click ID>.<expiry in ms>".
  function parse(v, now) {
    var m = /^([0-9a-hjkmnp-tv-z]{29})\.(\d{1,16})$/.exec(v || '');
    if (!m || +m[2] <= now) return '';
    return m[1];
  }

  function stored(now) {
    var id = parse(readCookie(), now);
    if (id) return id;
    try {
      id = parse(window.localStorage.getItem(KEY), now);
      if (!id) window.localStorage.removeItem(KEY);
    } catch (e) {
      id = '';
    }
    return id;
  }

  function keep(id, expires, now) {
    var v = id + '.' + expires;
    var secs = Math.max(0, Math.floor((expires - now) / 1000));
    var c = KEY + '=' + encodeURIComponent(v) + '; Max-Age=' + secs + '; Path=/; SameSite=Lax';
    if (location.protocol === 'https:') c += '; Secure';
    try {
      document.cookie = c;
    } catch (e) {
      /* cookies disabled: localStorage below */
    }
    try {
      window.localStorage.setItem(KEY, v);
    } catch (e) {
      /* storage disabled */
    }
  }

  // lookup asks Baton whether id is one of its clicks and when its window
  // ends: done(expiresMs) for a real click, else fail().
  function lookup(origin, id, done, fail) {
    if (!origin || typeof fetch !== 'function') return fail();
    fetch(origin + '/t/c/' + id, { credentials: 'omit', cache: 'no-store' })
      .then(function (r) {
        return r.ok ? r.json() : null;
      })
      .then(function (j) {
        if (j && typeof j.expires_at === 'number') done(j.expires_at);
        else fail();
      })
      .catch(fail);
  }

  // copyTags sends every FC2 image tag of this Baton on the page again with
  // the click ID.
  var sent = {};
  function copyTags(origin, id) {
    if (!origin || !id) return 0;
    var n = 0;
    var imgs = document.getElementsByTagName('img');
    for (var i = 0; i < imgs.length; i++) {
      var src = imgs[i].getAttribute('src') || '';
      var u;
      try {
        u = new URL(src, location.href);
      } catch (e) {
        continue;
      }
      if (u.origin !== origin || u.pathname !== '/tracking/tracking_img.php' || u.searchParams.has('click_id')) continue;
      u.searchParams.set('click_id', id);
      u.searchParams.set('via', 't.js');
      var copy = u.toString();
      if (sent[copy]) continue;
      sent[copy] = true;
      new Image(1, 1).src = copy;
      n++;
    }
    return n;
  }

  // The origin is read while the script runs: document.currentScript is
  // gone by the time DOMContentLoaded fires.
  var ORIGIN = base();

  function run() {
    var now = Date.now();
    var found = fromURL(location.href, now);
    if (!found.length) {
      copyTags(ORIGIN, stored(now));
      return;
    }
    // The newest click on the URL is this visit's; until Baton confirms it,
    // no tag is copied with an older one.
    found.sort(function (a, b) {
      return clickTime(b) - clickTime(a);
    });
    var id = found[0];
    lookup(
      ORIGIN,
      id,
      function (expires) {
        keep(id, expires, Date.now());
        copyTags(ORIGIN, id);
      },
      function () {
        copyTags(ORIGIN, stored(Date.now()));
      }
    );
  }

  window.BatonTag = { run: run, clickTime: clickTime, fromURL: fromURL, stored: stored };
  try {
    if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', run);
    else run();
  } catch (e) {
    /* never break the shop's page */
  }
})();
