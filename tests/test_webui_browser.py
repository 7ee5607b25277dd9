"""recops webui driven in headless Chromium (Debian's chromium and chromium-driver, through
Selenium): a person creates an identity, links a face to it, rejects one proposed link and
confirms another, uploads a photo, reads its report and rejects its match; the records on disk
say so. A form on
another site that posts to the interface is refused. Screenshots of the pages are written to
/tmp/recops-webui-*.png for people to look at."""

import shutil
import threading

import pytest
from test_webui import CROWD, draw_photo, faces_by_photo, identity_named, make_case, records

from recops.webui import make_server, url_of
from recops.webui.sites import Sites, site_key

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
webdriver = pytest.importorskip("selenium.webdriver")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER), reason="needs chromium and chromium-driver (make test installs them)"
    ),
]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--window-size=1280,1000",
]
SHOTS = "/tmp/recops-webui-{}.png"


@pytest.fixture
def browser(tmp_path):
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def site(tmp_path, fake_models):
    """The case, served in this process (the fake models recognise uploads): (root, base URL)."""
    root = make_case(tmp_path)
    server, _ = make_server(Sites(dataset=root), "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield root, url_of(server).rstrip("/") + f"/d/{site_key(root)}/"
    server.shutdown()
    server.server_close()


def by_css(driver, selector):
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, selector)


def submit(driver, selector) -> str:
    """Clicks a button and returns the note of the page the change led to, once that page has replaced this one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    page = driver.find_element(By.TAG_NAME, "html")
    by_css(driver, selector).click()
    WebDriverWait(driver, 20).until(expected_conditions.staleness_of(page))
    return (
        WebDriverWait(driver, 20)
        .until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "p.note")))
        .text
    )


def shoot(driver, name: str) -> None:
    """A screenshot, once every image on the page has loaded (and none failed)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 20).until(lambda d: d.execute_script("return [...document.images].every(i => i.complete)"))
    assert driver.execute_script("return [...document.images].filter(i => !i.naturalWidth).length") == 0
    driver.save_screenshot(SHOTS.format(name))


def test_a_person_curates_the_dataset_in_the_browser(site, browser, tmp_path):
    from selenium.webdriver.support.ui import Select

    root, base = site
    faces = faces_by_photo(root)
    ada, bob = identity_named(root, "Ada"), identity_named(root, "Bob")

    browser.get(base + "identities")
    by_css(browser, "input[name=name]").send_keys("Cy")
    assert submit(browser, "form[action$='/identities'] button") == "created identity Cy"
    cy = identity_named(root, "Cy")

    browser.get(base + "faces?identity=none")
    assert len(browser.find_elements("css selector", "div.card")) == len(CROWD)
    shoot(browser, "faces")
    by_css(browser, f"input.pick[value='{faces['c3.jpg']}']").click()
    Select(by_css(browser, "form[method=post] select[name=identity]")).select_by_visible_text("Cy")
    assert submit(browser, "button[name=op][value=link]") == "linked 1 face to Cy"
    assert faces["c3.jpg"] not in browser.page_source

    browser.get(base + "proposals")
    shoot(browser, "proposals")
    assert "will not be proposed again" in submit(browser, f"#proposal-{faces['c2.jpg']} button[value=reject]")
    assert submit(browser, f"#proposal-{faces['c1.jpg']} button[value=confirm]").startswith("linked face")
    assert (
        f"proposal-{faces['c4.jpg']}" in browser.page_source
        and f"proposal-{faces['c2.jpg']}" not in browser.page_source
    )

    browser.get(base + f"images/{by_face(root, faces['c1.jpg'])}")
    shoot(browser, "image")
    assert "Ada" in by_css(browser, ".panel").text

    draw_photo(tmp_path / "upload.jpg", (203, 39, 41), 7)
    browser.get(base + "recognitions")
    by_css(browser, "input[type=file]").send_keys(str(tmp_path / "upload.jpg"))
    by_css(browser, "form[enctype] button").click()
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 30).until(lambda d: "/recognitions/" in d.current_url)
    frame = by_css(browser, "iframe.report")
    shoot(browser, "recognition")
    browser.switch_to.frame(frame)
    report = browser.find_element("tag name", "body").text
    browser.switch_to.default_content()
    assert "Recognition of upload.jpg" in report and "Ada" in report
    uploaded = by_css(browser, "div.card").get_attribute("id").removeprefix("face-")
    assert "nearest: Ada" in by_css(browser, "div.card").text
    assert submit(browser, "div.card button.danger") == "rejected 1 face for Ada"
    assert "nearest: Ada" not in browser.page_source

    links = {(r["face"], r["identity"], r["op"], r["source"]) for r in records(root, "links")}
    assert (faces["c3.jpg"], cy["id"], "link", "manual") in links
    assert (faces["c2.jpg"], bob["id"], "reject", "manual") in links
    assert (faces["c1.jpg"], ada["id"], "link", "review") in links
    assert (uploaded, ada["id"], "reject", "manual") in links


def by_face(root: str, face: str) -> str:
    from recops.faces import FaceCatalog
    from recops.store.dataset import Dataset

    with Dataset.open(root) as dataset:
        return FaceCatalog.of(dataset).get(face)["image"]


def test_a_form_on_another_site_is_refused(site, browser, tmp_path):
    """A page elsewhere (here a local file: its Origin is null) that posts the interface's own form."""
    root, base = site
    faces = faces_by_photo(root)
    ada = identity_named(root, "Ada")
    before = records(root, "links")
    evil = tmp_path / "evil.html"
    evil.write_text(
        f'<form method="post" action="{base}faces/link"><input name="face" value="{faces["c3.jpg"]}">'
        f'<input name="op" value="link"><input name="identity" value="{ada["id"]}">'
        '<input name="csrf" value="guessed"><button>go</button></form>'
    )
    browser.get(f"file://{evil}")
    by_css(browser, "button").click()
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 20).until(lambda d: "Refused" in d.page_source)
    assert records(root, "links") == before
