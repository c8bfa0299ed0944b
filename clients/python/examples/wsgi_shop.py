from baton_client import keep_click_id, kept_click_id


def app(environ, start_response):  # any WSGI server: gunicorn, uWSGI, wsgiref
    headers = [("Content-Type", "text/plain")]
    if environ["PATH_INFO"] == "/lp":  # the landing page: keep ?sid=<click ID> for the offer's window
        proxied = environ.get("HTTP_X_FORWARDED_PROTO", "").lower()  # set by your own TLS-terminating proxy
        https = environ["wsgi.url_scheme"] == "https" or proxied == "https"
        click_id, set_cookie = keep_click_id(environ.get("QUERY_STRING", ""), param="sid", secure=https)
        if set_cookie:
            headers.append(("Set-Cookie", set_cookie))
        body = "landing page"
    else:  # the checkout: report the sale with the kept click ID (None when there is none)
        click_id = kept_click_id(environ.get("HTTP_COOKIE", ""))
        body = f"checkout, click {click_id}"
    start_response("200 OK", headers)
    return [body.encode()]
