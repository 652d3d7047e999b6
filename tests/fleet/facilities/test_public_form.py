"""The report form of the public page: the same Open311 path, answered as pages - a follow page
to keep, the form again with the reason and what was typed when it is refused."""

from fleetkit import bearer
from facilitykit import asset, jpeg, report

SCRIPT = "<script>alert('x')</script><img src=x onerror=alert(1)>"


def test_the_form_leads_to_a_follow_page_that_tracks_the_work_order(client, db):
    admin = bearer(db, "admin")
    made = asset(client, admin)
    sent = report(client, made["code"], form="page", description="Dark at night " + SCRIPT, email="me@example.org",
                  files={"media": ("p.jpg", jpeg(), "image/jpeg")}, )
    assert sent.status_code == 200 and sent.url.path.startswith("/r/")      # the client followed the 303
    text = sent.text
    assert "Received; waiting for a maintenance team." in text or "已收到" in text
    assert "<script>alert" not in text and "<img src=x" not in text and "&lt;script&gt;" in text
    assert "me@example.org" not in text
    follow = sent.url.path
    wo_id = db.conn.execute("SELECT work_order_id FROM service_requests").fetchone()[0]
    client.post("/api/v1/workorders/%d/actions" % wo_id, json={"action": "reject", "reason": "Not ours: the "
                "lamp belongs to the school " + SCRIPT}, headers=admin)
    page = client.get(follow, headers={"Accept-Language": "en"}).text
    assert "Not acted on." in page and "Not ours: the lamp belongs to the school" in page
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    status = client.get("/a/" + made["code"], headers={"Accept-Language": "en"}).text
    assert "Working" in status


def test_a_refused_form_comes_back_with_the_reason_and_what_was_typed(client, db):
    made = asset(client, bearer(db, "admin"))
    refused = report(client, made["code"], form="page", description="Lamp dark " + SCRIPT,
                     files={"media": ("x.jpg", b"not a picture", "image/jpeg")}, )
    assert refused.status_code == 400
    text = refused.text
    assert 'id="form-error"' in text and "could not be read as a picture" in text.replace("无法识别该照片", "could "
                                                                                          "not be read as a picture")
    assert "Lamp dark &lt;script&gt;" in text and "<script>alert" not in text
    assert db.conn.execute("SELECT count(*) FROM service_requests").fetchone()[0] == 0


def test_the_trap_field_filled_by_a_bot_stores_nothing(client, db):
    made = asset(client, bearer(db, "admin"))
    response = report(client, made["code"], form="page", website="http://spam.example")
    assert response.status_code == 400
    assert db.conn.execute("SELECT count(*) FROM service_requests").fetchone()[0] == 0


def test_an_unknown_follow_link_gets_a_helpful_page(client):
    response = client.get("/r/not-a-token", headers={"Accept-Language": "en"})
    assert response.status_code == 404 and "cannot find this report" in response.text
