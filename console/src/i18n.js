// The console's words in English and Japanese. t(lang, key, vars) fills
// {name} placeholders. A missing Japanese string falls back to English.
export const LANGS = ["en", "ja"];

const en = {
  title: "Baton console",
  signin: "Sign in", signout: "Sign out", apiKey: "API key",
  signinHelp: "Paste an API key. It is kept in this browser tab only (session storage) and sent to Baton on each call; closing the tab forgets it.",
  demoKeys: "Demo keys (make run): admin baton-dev-admin-key; advertiser bk_demo_advertiser_key_0000000000; publishers bk_demo_publisher_key_00000000000 and bk_demo_publisher2_key_0000000000.",
  wrongKey: "This API key is not valid: it is unknown or was revoked. Check it and try again.",
  keyRevoked: "Your API key stopped working (it was revoked or is unknown). Sign in again.",
  unreachable: "Baton cannot be reached: {msg}",
  emptyKey: "Enter an API key.",
  signedInAs: "Signed in as {role} {partner}",
  role_ROLE_ADMIN: "operator (admin)", role_ROLE_ADVERTISER: "advertiser", role_ROLE_PUBLISHER: "publisher", role_ROLE_NETWORK: "network",
  nav_overview: "Overview", nav_conversions: "Conversions", nav_refusals: "Refusals", nav_tags: "Tags", nav_links: "Links",
  nav_clicks: "Clicks", nav_postbacks: "Postbacks", nav_deliveries: "Deliveries", nav_partners: "Partners", nav_offers: "Offers",
  nav_keys: "API keys", nav_networks: "Networks", nav_queue: "Delivery queue", nav_chain: "Chain",
  language: "Language", timeZone: "Time zone",
  today: "Today", last30: "Last 30 days", clicks: "Clicks", uniqueClicks: "Unique clicks", conversions: "Conversions",
  pending: "Pending", approved: "Approved", rejected: "Rejected", reversed: "Reversed", sales: "Sales",
  commissionPending: "Commission pending", commissionApproved: "Commission approved", commission: "Commission",
  chartTitle: "Clicks and conversions per day, last 30 days ({tz})", updated: "Updated {time}; refreshes every 10 s.",
  day: "Day", noData: "Nothing yet.", loading: "Loading…",
  status: "Status", any: "Any", offer: "Offer", publisher: "Publisher", advertiser: "Advertiser", from: "From", to: "To",
  orderId: "Order ID", clickId: "Click ID", includeTest: "Include test conversions", apply: "Apply", reset: "Reset",
  amount: "Amount", time: "Time", test: "test", why: "Why", hide: "Hide",
  approve: "Approve", reject: "Reject", reverse: "Reverse", reason: "Reason", note: "Note (optional)",
  selected: "{n} selected", selectAll: "Select all on this page", select: "Select {id}",
  changed: "{n} changed.", changeFailed: "{id}: {msg}",
  exportCsv: "Export CSV (this page)", prev: "Previous page", next: "Next page", page: "Page {n}",
  reason_STATUS_REASON_VALID_SALE: "valid sale", reason_STATUS_REASON_REFUND: "refund", reason_STATUS_REASON_FRAUD: "fraud",
  reason_STATUS_REASON_CANCELLATION: "cancellation", reason_STATUS_REASON_DUPLICATE: "duplicate", reason_STATUS_REASON_TEST: "test",
  reason_STATUS_REASON_OTHER: "other",
  explanation: "Why this click", candidates: "Candidate clicks", winner: "winner", eligible: "eligible", notEligible: "not eligible",
  history: "History", path: "Path",
  refusals: "Refused tags and POSTs", refusedCount: "Times (this minute)", code: "Code", message: "Message", source: "Source", params: "Parameters",
  fc2Builder: "FC2 tag and POST builder", format: "Format", image: "Image tag", post: "Server POST", build: "Build",
  tsJst: "ts (Japan time): {ts}", firstParty: "First-party tag snippet", firstPartyHelp: "Your server fills in ORDER_ID, USER, AMOUNT and ts (Japan time), and sh = SHA-1 of your password followed by shopid, unique_id, uname, email, amount_y, amount_d, ts, recurring, item_code and unit_num (fc2Sh in the client libraries; the builder above does it for one order).", copy: "Copy", copied: "Copied.",
  links: "Tracking links", createLink: "Create link", site: "Site", linkBuilder: "Link builder", deepLink: "Deep link (path on the shop)",
  url: "URL", created: "Created",
  upstream: "Upstream (from the media)", downstream: "Downstream (to the next network)", flags: "Flags", unique: "unique",
  upstreamId: "Upstream ID",
  endpoints: "Postback endpoints", newEndpoint: "New endpoint", edit: "Edit", save: "Save", cancel: "Cancel", saved: "Saved.",
  method: "Method", events: "Events", urlTemplate: "URL template", bodyTemplate: "Body template", testOnly: "Test endpoint (receives test conversions only)",
  preview: "Preview for a sample conversion", unknownVars: "Unknown variables: {list}", variables: "Variables",
  state: "State", sendTest: "Send test postback", testSent: "Test postback queued: delivery {id}.",
  partnerSystem: "Partner system (clicks from)", mediaUrl: "URL for the media", none: "None",
  checkIntegration: "Integration check", runCheck: "Check", checkOk: "Every hop passed: ready to go live.",
  checkFailed: "Not ready: fix the hops marked FAIL and check again.", fix: "Fix",
  enable: "Re-enable", disable: "Disable", secretOnce: "Signing secret (shown once): {secret}",
  deliveries: "Delivery log", attempts: "Attempts", latency: "Latency", excerpt: "Response", redeliver: "Redeliver", redelivered: "Queued again: {n}.",
  event: "Event", endpoint: "Endpoint", nextAttempt: "Next attempt",
  advertisers: "Advertisers", publishers: "Publishers", name: "Name", kind: "Kind", shopId: "Shop ID", userId: "User ID",
  offers: "Offers", payout: "Payout", landing: "Landing URL",
  keys: "API keys", createKey: "Create key", role: "Role", partner: "Partner", revoke: "Revoke", revoked: "revoked",
  keyCreated: "New key (shown once, copy it now): {key}", confirmRevoke: "Revoke key {name}? Calls with it will fail at once.",
  lastUsed: "Last used", prefix: "Prefix",
  networks: "Networks", direction: "Direction",
  queue: "Delivery queue", depth: "Pending deliveries", oldest: "Oldest pending", failing: "Failed deliveries", failingEndpoints: "Failing endpoints", disabledEndpoints: "Disabled endpoints",
  chain: "Chain view", chainHelp: "Enter a click ID or a conversion ID to see every hop's IDs, the conversion and each delivery.",
  trace: "Trace", showSpans: "Show spans (Jaeger)", traceAdminOnly: "Its spans are shown to operators.", allSpans: "All {n} spans, database queries too",
  show: "Show", notFound: "Not found: {id}", timeline: "Timeline",
  error: "Error: {msg}", denied: "Not allowed: {msg}", skip: "Skip to content", menu: "Menu",
};

const ja = {
  title: "Baton コンソール",
  signin: "ログイン", signout: "ログアウト", apiKey: "APIキー",
  signinHelp: "APIキーを貼り付けてください。キーはこのタブの中だけ（セッションストレージ）に保存され、タブを閉じると消えます。",
  demoKeys: "デモ用キー（make run）: 管理者 baton-dev-admin-key、広告主 bk_demo_advertiser_key_0000000000、媒体 bk_demo_publisher_key_00000000000 と bk_demo_publisher2_key_0000000000。",
  wrongKey: "このAPIキーは無効です（存在しないか、失効しています）。確認してもう一度お試しください。",
  keyRevoked: "APIキーが使えなくなりました（失効または不明）。もう一度ログインしてください。",
  unreachable: "Baton に接続できません: {msg}",
  emptyKey: "APIキーを入力してください。",
  signedInAs: "{role} {partner} としてログイン中",
  role_ROLE_ADMIN: "運営者（管理者）", role_ROLE_ADVERTISER: "広告主", role_ROLE_PUBLISHER: "媒体", role_ROLE_NETWORK: "ネットワーク",
  nav_overview: "概要", nav_conversions: "成果", nav_refusals: "拒否ログ", nav_tags: "タグ", nav_links: "リンク",
  nav_clicks: "クリック", nav_postbacks: "ポストバック", nav_deliveries: "送信ログ", nav_partners: "パートナー", nav_offers: "広告",
  nav_keys: "APIキー", nav_networks: "ネットワーク", nav_queue: "送信キュー", nav_chain: "チェーン",
  language: "言語", timeZone: "タイムゾーン",
  today: "今日", last30: "過去30日", clicks: "クリック", uniqueClicks: "ユニーククリック", conversions: "成果",
  pending: "未確定", approved: "承認", rejected: "否認", reversed: "取消", sales: "売上",
  commissionPending: "未確定報酬", commissionApproved: "確定報酬", commission: "報酬",
  chartTitle: "日別のクリックと成果（過去30日、{tz}）", updated: "{time} 更新（10秒ごとに更新）",
  day: "日付", noData: "まだありません。", loading: "読み込み中…",
  status: "状態", any: "すべて", offer: "広告", publisher: "媒体", advertiser: "広告主", from: "開始日", to: "終了日",
  orderId: "注文ID", clickId: "クリックID", includeTest: "テスト成果を含める", apply: "絞り込む", reset: "リセット",
  amount: "金額", time: "日時", test: "テスト", why: "理由", hide: "閉じる",
  approve: "承認", reject: "否認", reverse: "取消", reason: "理由", note: "メモ（任意）",
  selected: "{n}件選択中", selectAll: "このページをすべて選択", select: "{id} を選択",
  changed: "{n}件を変更しました。", changeFailed: "{id}: {msg}",
  exportCsv: "CSV出力（このページ）", prev: "前のページ", next: "次のページ", page: "{n}ページ目",
  reason_STATUS_REASON_VALID_SALE: "正常な売上", reason_STATUS_REASON_REFUND: "返品", reason_STATUS_REASON_FRAUD: "不正",
  reason_STATUS_REASON_CANCELLATION: "キャンセル", reason_STATUS_REASON_DUPLICATE: "重複", reason_STATUS_REASON_TEST: "テスト",
  reason_STATUS_REASON_OTHER: "その他",
  explanation: "このクリックが選ばれた理由", candidates: "候補クリック", winner: "採用", eligible: "対象", notEligible: "対象外",
  history: "履歴", path: "判定経路",
  refusals: "拒否されたタグとPOST", refusedCount: "件数（この1分）", code: "コード", message: "メッセージ", source: "経路", params: "パラメータ",
  fc2Builder: "FC2 タグ・POST 作成", format: "形式", image: "画像タグ", post: "サーバーPOST", build: "作成",
  tsJst: "ts（日本時間）: {ts}", firstParty: "ファーストパーティタグ", firstPartyHelp: "ORDER_ID・USER・AMOUNT・ts（日本時間）はショップのサーバーで埋め込み、sh はパスワードに続けて shopid, unique_id, uname, email, amount_y, amount_d, ts, recurring, item_code, unit_num を連結した SHA-1 です（クライアントライブラリの fc2Sh、1件なら上のビルダー）。", copy: "コピー", copied: "コピーしました。",
  links: "トラッキングリンク", createLink: "リンク作成", site: "サイト", linkBuilder: "リンクビルダー", deepLink: "ディープリンク（ショップ内のパス）",
  url: "URL", created: "作成日時",
  upstream: "上流（媒体から）", downstream: "下流（次のネットワークへ）", flags: "フラグ", unique: "ユニーク",
  upstreamId: "上流ID",
  endpoints: "ポストバック先", newEndpoint: "新しい送信先", edit: "編集", save: "保存", cancel: "キャンセル", saved: "保存しました。",
  method: "メソッド", events: "イベント", urlTemplate: "URLテンプレート", bodyTemplate: "本文テンプレート", testOnly: "テスト用（テスト成果のみ受信）",
  preview: "サンプル成果でのプレビュー", unknownVars: "不明な変数: {list}", variables: "変数",
  state: "状態", sendTest: "テスト送信", testSent: "テストポストバックを登録しました: {id}",
  partnerSystem: "連携先システム（クリック元）", mediaUrl: "メディア入稿URL", none: "なし",
  checkIntegration: "連携チェック", runCheck: "チェック", checkOk: "すべての経路が通りました: 本番にできます。",
  checkFailed: "未完了: FAIL の経路を直して再チェックしてください。", fix: "直し方",
  enable: "再開", disable: "停止", secretOnce: "署名シークレット（一度だけ表示）: {secret}",
  deliveries: "送信ログ", attempts: "試行", latency: "応答時間", excerpt: "応答", redeliver: "再送", redelivered: "{n}件を再送キューに入れました。",
  event: "イベント", endpoint: "送信先", nextAttempt: "次回試行",
  advertisers: "広告主", publishers: "媒体", name: "名前", kind: "種別", shopId: "ショップID", userId: "ユーザーID",
  offers: "広告", payout: "報酬", landing: "遷移先URL",
  keys: "APIキー", createKey: "キー作成", role: "ロール", partner: "パートナー", revoke: "失効", revoked: "失効済み",
  keyCreated: "新しいキー（一度だけ表示。今コピーしてください）: {key}", confirmRevoke: "キー {name} を失効させますか？このキーでの呼び出しはすぐに失敗します。",
  lastUsed: "最終利用", prefix: "先頭",
  networks: "ネットワーク", direction: "方向",
  queue: "送信キュー", depth: "未送信", oldest: "最も古い未送信", failing: "失敗した送信", failingEndpoints: "失敗中の送信先", disabledEndpoints: "停止中の送信先",
  chain: "チェーン表示", chainHelp: "クリックIDまたは成果IDを入力すると、各ホップのID、成果、送信を表示します。",
  trace: "トレース", showSpans: "スパンを表示（Jaeger）", traceAdminOnly: "スパンは運営者に表示されます。", allSpans: "全{n}スパン（データベース処理を含む）",
  show: "表示", notFound: "見つかりません: {id}", timeline: "タイムライン",
  error: "エラー: {msg}", denied: "権限がありません: {msg}", skip: "本文へ移動", menu: "メニュー",
};

const dict = { en, ja };

export function t(lang, key, vars) {
  let s = (dict[lang] && dict[lang][key]) ?? en[key] ?? key;
  if (vars) for (const [k, v] of Object.entries(vars)) s = s.split(`{${k}}`).join(String(v));
  return s;
}

/** The language to start with: saved choice, then the browser's. */
export function initialLang(saved, navigatorLanguages) {
  if (LANGS.includes(saved)) return saved;
  for (const l of navigatorLanguages || []) {
    const base = String(l).toLowerCase().split("-")[0];
    if (LANGS.includes(base)) return base;
  }
  return "en";
}

export const _dicts = dict;
