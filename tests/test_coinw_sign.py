"""CoinW request signing against vectors computed independently with openssl.

Each expected value below was produced with
``printf '%s' PREHASH | openssl dgst -sha256 -hmac test-secret-key -binary | base64``.
"""

from __future__ import annotations

from watcher.config.model import Secret
from watcher.sources.coinw_sign import CoinwSigner, build_body, build_query, prehash, sign

SECRET = "test-secret-key"


def test_sign_matches_openssl_for_the_documented_example() -> None:
    """The docs/upstream-apis.md example prehash signs to openssl's base64 HMAC-SHA256 (not hex)."""
    text = (
        "1701944491793GET/v1/fapi/getStopProfit?orderId=54635502191944903&instrument=BTC&openId=0"
    )
    assert sign(SECRET, text) == "BIwzMR06UbQ0xHXwuqk/x/auxyir7KWQ+cIeYOgFmRw="


def test_get_prehash_appends_the_exact_query() -> None:
    """GET signs timestamp + GET + path + ? + the query string as sent, in order, unencoded."""
    query = build_query({"orderId": "54635502191944903", "instrument": "BTC", "openId": 0})
    assert query == "orderId=54635502191944903&instrument=BTC&openId=0"
    expected = (
        "1701944491793GET/v1/fapi/getStopProfit?orderId=54635502191944903&instrument=BTC&openId=0"
    )
    assert expected == prehash(1701944491793, "GET", "/v1/fapi/getStopProfit", query)


def test_get_without_params_has_no_question_mark() -> None:
    """A GET with no parameters signs the bare path."""
    assert prehash(1, "GET", "/v1/x", "") == "1GET/v1/x"


def test_coupon_request_headers() -> None:
    """The coupon request carries api_key, timestamp and the openssl-verified sign header."""
    signer = CoinwSigner(Secret("my-key"), Secret(SECRET))
    headers = signer.headers(1740555154000, "GET", "/v1/perpum/account/almightyGoldInfo", "type=1")
    expected = {
        "api_key": "my-key",
        "timestamp": "1740555154000",
        "sign": "UC4e4EQW8EBW7sUAOM+d+HuyHHqAi8VyrDRAJLq4bjc=",
    }
    assert expected == headers


def test_post_signs_the_exact_body() -> None:
    """POST signs timestamp + POST + path + the JSON body bytes; an empty body is '{}'."""
    body = build_body({})
    assert body == "{}"
    path = "/api/v3/patener/openapi/v1/partner/invitation/user/volume/list"
    headers = CoinwSigner(Secret("k"), Secret(SECRET)).headers(1740555154000, "POST", path, body)
    assert headers["sign"] == "ga+ax55E6YQbwdo+cGxw7kyVInAN+ocgCqm+Qv2oglU="
