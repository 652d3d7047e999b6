"""Chinese and English: the language a request gets (switch cookie, Accept-Language, the district's
default), the scripts' catalog, times in the site's time zone, and the CLI's help by LANG."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fleetkit import PASSWORD, make_user

from fleet import cli, i18n
from fleet.core.config import Settings
from fleet.errors import Invalid
from fleet.main import create_app
from fleet.web.i18n import PageLanguage, js_catalog


@pytest.mark.parametrize("header, lang", [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh_CN"), ("en-US,en;q=0.9", "en"), ("zh-TW", "zh_CN"), ("zh-Hans", "zh_CN"),
    ("fr-FR,fr;q=0.9", "zh_CN"), ("fr, en;q=0.5, zh;q=0.7", "zh_CN"), ("de, en-GB;q=0.8", "en"),
    ("en;q=0, zh;q=0.1", "zh_CN"), ("", "zh_CN"), ("*", "zh_CN"), ("en;q=oops, zh", "en")])
def test_accept_language_picks_ours_or_the_district_default(header, lang):
    assert i18n.negotiate(header) == lang


def test_pages_follow_the_browser_then_the_switch(client):
    chinese = client.get("/login")                               # no Accept-Language: the district's
    assert '<html lang="zh-CN"' in chinese.text and "<h1>登录</h1>" in chinese.text
    english = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en"' in english.text and "<h1>Log in</h1>" in english.text
    assert 'href="/language/en?next=/login"' in chinese.text       # the switch, back to this page

    switched = client.get("/language/en?next=/login", follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/login"
    cookie = switched.headers["set-cookie"].lower()
    assert cookie.startswith("lang=en;") and "max-age=31536000" in cookie and "samesite=lax" in cookie
    page = client.get("/login", headers={"Accept-Language": "zh-CN"})
    assert "<h1>Log in</h1>" in page.text                          # the choice wins over the browser
    client.get("/language/zh_CN")
    assert "<h1>登录</h1>" in client.get("/login", headers={"Accept-Language": "en"}).text


def test_the_switch_stays_on_this_site_and_knows_its_languages(client):
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        response = client.get("/language/en", params={"next": target}, follow_redirects=False)
        assert response.headers["location"] == "/", target
    unknown = client.get("/language/fr?next=/login", follow_redirects=False)
    assert unknown.status_code == 303 and "set-cookie" not in unknown.headers


def test_login_refusal_in_the_readers_language(client, db):
    user = make_user(db, "caregiver")
    ours = {"Origin": "http://testserver"}      # what a browser on our own login page sends
    wrong = client.post("/login", data={"username": user["username"], "password": "nope"}, headers=ours)
    assert wrong.status_code == 401 and "用户名或密码错误。" in wrong.text
    wrong = client.post("/login", data={"username": user["username"], "password": "nope"},
                        headers=dict(ours, **{"Accept-Language": "en"}))
    assert "Wrong username or password." in wrong.text
    client.post("/login", data={"username": user["username"], "password": PASSWORD}, headers=ours)
    page = client.get("/devices").text
    assert "<h1>设备</h1>" in page and "护理员" in page and "退出登录" in page   # role named in Chinese too


def test_scripts_get_their_messages_from_the_catalog(client):
    script, version = js_catalog("zh_CN")
    page = client.get("/login")
    assert '<script src="/i18n/zh_CN.js?v=%s"></script>' % version in page.text
    served = client.get("/i18n/zh_CN.js?v=" + version)
    assert served.status_code == 200 and served.headers["content-type"].startswith("text/javascript")
    assert "immutable" in served.headers["cache-control"] and served.text == script
    assert '"live": "实时"' in served.text and '"Acknowledged by %(who)s at %(time)s"' in served.text
    assert "Usage:" not in served.text and "Log in" not in served.text      # only what scripts use
    assert client.get("/i18n/zh_CN.js?v=old").headers["cache-control"] == "no-cache"
    assert "plural" in client.get("/i18n/en.js").text
    assert client.get("/i18n/fr.js").status_code == 404


def test_times_are_the_sites_written_the_languages_way():
    zh = PageLanguage("zh_CN", "Asia/Shanghai", "/")
    en = PageLanguage("en", "Asia/Shanghai", "/")
    assert zh.datetime("2026-01-02T03:04:05Z") == "2026年1月2日 11:04:05"
    assert en.datetime("2026-01-02T03:04:05Z") == "Jan 2, 2026, 11:04:05\u202fAM"
    assert zh.zone_label() == "中国时间 (GMT+08:00)" and en.zone_label() == "China Time (GMT+08:00)"
    assert PageLanguage("en", "Asia/Kolkata", "/").zone_label() == "India Time (GMT+05:30)"


def test_templates_format_times_with_babel_in_the_site_zone():
    from fleet.web.pages import templates
    template = templates.env.from_string("{{ _('Alarm console') }}: {{ when|datetime }}")
    when = "2026-01-02T03:04:05Z"
    assert template.render(when=when, i18n=PageLanguage("zh_CN", "Asia/Shanghai", "/")) == "告警台: 2026年1月2日 11:04:05"
    assert template.render(when=when, i18n=PageLanguage("en", "Europe/Berlin", "/")) == \
        "Alarm console: Jan 2, 2026, 4:04:05\u202fAM"


def test_the_page_names_the_sites_time_zone(tmp_path):
    from fastapi.testclient import TestClient
    with TestClient(create_app(Settings(db=tmp_path / "f.db", time_zone="Asia/Kolkata"))) as client:
        page = client.get("/login", headers={"Accept-Language": "en"}).text
    assert 'data-time-zone="Asia/Kolkata"' in page and "Times are shown in India Time (GMT+05:30)." in page


def test_a_bad_language_or_time_zone_setting_is_refused(tmp_path):
    with pytest.raises(Invalid, match="FLEET_TIME_ZONE='Mars/Olympus'"):
        create_app(Settings(db=tmp_path / "f.db", time_zone="Mars/Olympus"))
    with pytest.raises(Invalid, match="FLEET_DEFAULT_LANGUAGE='fr'"):
        create_app(Settings(db=tmp_path / "f.db", default_language="fr"))
    settings = Settings.from_env({"FLEET_TIME_ZONE": "Europe/Berlin", "FLEET_DEFAULT_LANGUAGE": "en"})
    assert (settings.time_zone, settings.default_language) == ("Europe/Berlin", "en")


def test_english_default_for_browsers_that_ask_for_no_language_of_ours(tmp_path):
    from fastapi.testclient import TestClient
    with TestClient(create_app(Settings(db=tmp_path / "f.db", default_language="en"))) as client:
        assert "<h1>Log in</h1>" in client.get("/login", headers={"Accept-Language": "fr"}).text
        assert "<h1>登录</h1>" in client.get("/login", headers={"Accept-Language": "zh"}).text


def test_favicon(client):
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"                 # an ICO file
    assert '<link rel="icon" href="/favicon.ico"' in client.get("/login").text


# ---- the CLI ---------------------------------------------------------------------------------

FLEET = Path(sys.executable).with_name("fleet")          # the console script, as a technician runs it


def fleet_cli(*args, **env):
    clean = {k: v for k, v in os.environ.items() if k not in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")}
    return subprocess.run([str(FLEET), *args], env=dict(clean, **env),
                          capture_output=True, text=True, timeout=60)


def test_cli_help_in_chinese_for_a_chinese_locale():
    top = fleet_cli("--help", LANG="zh_CN.UTF-8")
    assert top.returncode == 0, top.stderr
    assert top.stdout.startswith("用法: fleet [OPTIONS] COMMAND [ARGS]...")
    for text in ("设备管理平台：提供设备协议接口和管理网页，管理用户、令牌和设备。", "选项:", "命令:",
                 "显示此帮助并退出。", "enroll-token  一次性注册令牌，用于设备注册入网。"):
        assert text in top.stdout, text
    sub = fleet_cli("enroll-token", "create", "--help", LANG="zh_CN.UTF-8").stdout
    assert "生成注册令牌；每个令牌只显示这一次。" in sub and "有效期：90、30m、24h、7d  [默认：24h]" in sub
    refused = fleet_cli("enroll-token", "create", "--role", "lamp", LANG="zh_CN.UTF-8")
    assert refused.returncode == 2
    assert "错误：'--role' 的值无效：'lamp' 不在可选值 'call_button', 'smart_bin', 'beacon' 之中。" in refused.stderr


@pytest.mark.parametrize("env", [{"LANG": "en_US.UTF-8"}, {"LANG": "C.UTF-8"}, {},
                                 {"LANG": "zh_CN.UTF-8", "LC_ALL": "C"}, {"LANG": "fr_FR.UTF-8"}])
def test_cli_help_in_english_otherwise(env):
    out = fleet_cli("--help", **env).stdout
    assert out.startswith("Usage: fleet") and "Show this message and exit." in out


def test_cli_language_follows_gettexts_variables():
    from fleet.i18n.cli import language
    assert language({"LANGUAGE": "fr:zh_CN", "LANG": "en_US.UTF-8"}) == "zh_CN"
    assert language({"LC_ALL": "zh_SG.UTF-8"}) == "zh_CN"
    assert language({"LC_MESSAGES": "en_GB.UTF-8", "LANG": "zh_CN.UTF-8"}) == "en"
    assert language({"LANG": "POSIX"}) == language({}) == "en"


def test_cli_in_process_switches_language_and_back():
    runner = CliRunner()
    chinese = runner.invoke(cli.main, ["user", "--help"], env={"LANG": "zh_CN.UTF-8", "LC_ALL": None,
                                                               "LANGUAGE": None, "LC_MESSAGES": None})
    assert "登录用户：管理员、护理员、技术员。" in chinese.output
    english = runner.invoke(cli.main, ["user", "--help"], env={"LANG": "C", "LC_ALL": None, "LANGUAGE": None,
                                                               "LC_MESSAGES": None})
    assert "People who log in: admins, caregivers, technicians." in english.output
    assert "Usage:" in english.output and "用法" not in english.output
