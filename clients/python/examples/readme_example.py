from os import environ as env

from baton.v1.conversion_pb import RecordConversionRequest
from baton.v1.postback_pb import ListDeliveriesRequest

from baton_client import BatonClient, verify_webhook

with BatonClient(env["BATON_URL"], env["BATON_API_KEY"]) as baton:  # an advertiser key
    sale = RecordConversionRequest(click_id=env["CLICK_ID"], order_id=env["ORDER_ID"], amount_jpy=1980)
    conversion = baton.conversions.record_conversion(sale).conversion
    assert conversion is not None  # always set on success
    for d in baton.postbacks.list_deliveries(ListDeliveriesRequest(conversion_id=conversion.id)).deliveries:
        print(d.id, d.event.name, d.state.name)


def on_webhook(headers: dict[str, str], body: bytes) -> object:  # in your POST_JSON postback receiver
    return verify_webhook(env["WEBHOOK_SECRET"], headers, body)  # raises unless authentic and fresh
