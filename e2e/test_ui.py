"""The web UI in headless Chromium (Debian's, driven by Debian's /usr/bin/chromedriver): text
search, paging, filters, "more like this", photo upload, errors, escaping, keyboard and a phone
width. Called by harness.py with the URL of a running server over its fixture data."""

import tempfile
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM = "/usr/bin/chromium"
PER_PAGE = 24


def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,1000", "--lang=en-US"):
        options.add_argument(argument)
    # Named explicitly: Selenium's driver manager would try to download one, which cannot work here.
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def gone(element):
    """Whether `element`'s document has been replaced. Selenium's staleness_of only knows the
    stale-element error; while a navigation is under way chromedriver may instead answer "Node with
    given id does not belong to the document", which means the same."""
    try:
        element.is_enabled()
        return False
    except StaleElementReferenceException:
        return True
    except WebDriverException as error:
        if "does not belong to the document" in str(error):
            return True
        raise


class UI:
    def __init__(self, driver, base):
        self.driver = driver
        self.base = base
        self.wait = WebDriverWait(driver, 20)

    def navigate(self, action):
        """Runs `action` (a click, a key) and waits until the next page has replaced this one."""
        page = self.driver.find_element(By.TAG_NAME, "html")
        try:
            action()
        except WebDriverException as error:
            # A click that submits a form can race chromedriver's own follow-up on the clicked
            # node: the navigation began, and the driver reports that the node left the document.
            # That is the expected outcome, as long as the page really is being replaced.
            if not self._page_left(page):
                raise error
        self.wait.until(lambda d: gone(page))
        self.wait.until(lambda d: d.execute_script("return document.readyState") == "complete")

    def _page_left(self, page):
        try:
            WebDriverWait(self.driver, 10).until(lambda d: gone(page))
            return True
        except TimeoutException:
            return False

    def open(self, path="/"):
        self.driver.get(self.base + path)

    def cards(self):
        return self.driver.find_elements(By.CSS_SELECTOR, "#results li.card")

    # Read in one script call, so a grid being redrawn cannot leave stale element references.
    def ids(self):
        return self.driver.execute_script(
            "return Array.from(document.querySelectorAll('#results li.card'), li => li.getAttribute('data-id'))")

    def card_text(self, selector):
        return self.driver.execute_script(
            "return Array.from(document.querySelectorAll('#results li.card'), li => {"
            " const node = li.querySelector(arguments[0]); return node ? node.textContent : null })", selector)

    def text(self, selector):
        return self.driver.find_element(By.CSS_SELECTOR, selector).text

    def alert(self):
        box = self.driver.find_element(By.ID, "error")
        return box.text if box.is_displayed() else None

    def submit_search(self, words):
        box = self.driver.find_element(By.ID, "q")
        box.clear()
        self.navigate(lambda: box.send_keys(words, Keys.ENTER))

    def choose(self, select_id, label_prefix):
        """Picks the first option whose label starts with `label_prefix`; returns (value, name)."""
        select = Select(self.driver.find_element(By.ID, select_id))
        for option in select.options:
            label = option.text
            if label.startswith(label_prefix):
                value = option.get_attribute("value")
                # A pointer change applies the filter at once (the script submits the form).
                self.navigate(lambda: select.select_by_value(value))
                return value, label.rsplit(" (", 1)[0]
        raise AssertionError(f"no option starting with {label_prefix!r} in #{select_id}")

    def upload(self, path):
        self.driver.find_element(By.ID, "image").send_keys(str(path))

    def wait_for_photo_results(self, previous=None):
        self.wait.until(lambda d: self.text("#results-heading").endswith("Products like your photo")
                        and self.cards() and self.ids() != previous)


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def run(base, artifacts, shop_items, xss_name, photos):
    driver = browser()
    try:
        ui = UI(driver, base)
        steps(ui, artifacts, shop_items, xss_name, photos)
    except Exception:
        driver.save_screenshot(str(Path(artifacts) / "ui-failure.png"))
        raise
    finally:
        driver.quit()


def steps(ui, artifacts, shop_items, xss_name, photos):
    driver = ui.driver

    # The start page: the empty state, filters filled from the facets, no results yet.
    ui.open("/")
    check("Find products" in ui.text("#results-heading"), "start page heading")
    check(ui.driver.find_element(By.ID, "empty").is_displayed(), "the start page shows its empty state")
    categories = Select(driver.find_element(By.ID, "category")).options
    check(len(categories) >= 1 + 10 + 3, f"category options from the facets: {[o.text for o in categories]}")
    check("js" in driver.find_element(By.TAG_NAME, "html").get_attribute("class"), "the script ran")

    # An empty query says what to do.
    ui.navigate(lambda: driver.find_element(By.CSS_SELECTOR, "#search-form button[type=submit]").click())
    ui.wait.until(lambda d: ui.alert())
    check("Type what you are looking for" in ui.alert(), f"empty query message: {ui.alert()!r}")
    check(not ui.cards(), "no results for an empty query")

    # Text search: a full first page and a link to the next.
    ui.submit_search("a shirt")
    first = ui.ids()
    check(len(first) == PER_PAGE, f"first page has {len(first)} results")
    check(ui.alert() is None, "no error on a good search")
    check(ui.text("#status").startswith("Results 1–24"), ui.text("#status"))
    scores = [float(s.split()[-1]) for s in ui.card_text(".score")]
    check(scores == sorted(scores, reverse=True), f"scores best first: {scores}")
    driver.save_screenshot(str(Path(artifacts) / "ui.png"))

    # Paging: page 2 continues page 1.
    ui.navigate(lambda: driver.find_element(By.CSS_SELECTOR, "#pager a[rel=next]").click())
    check("page=2" in driver.current_url, driver.current_url)
    second = ui.ids()
    check(len(second) == PER_PAGE and not set(first) & set(second), "page 2 holds 24 other products")
    check("Page 2" in ui.text("#pager"), "the pager says page 2")
    ui.navigate(lambda: driver.find_element(By.CSS_SELECTOR, "#pager a[rel=prev]").click())
    check("page=" not in driver.current_url, driver.current_url)
    check(ui.ids() == first, "back to page 1")

    # A category filter holds on every result.
    value, name = ui.choose("category", "Trouser")
    check("category=" + value in driver.current_url, driver.current_url)
    check(ui.cards(), "results in the Trouser category")
    check(set(ui.card_text(".category")) == {name}, f"every result is a {name}: {set(ui.card_text('.category'))}")

    # "More like this" keeps the filter and leaves the product out.
    target = ui.ids()[0]
    ui.navigate(lambda: ui.cards()[0].find_element(By.CSS_SELECTOR, "a.more").click())
    check("similar=" in driver.current_url, driver.current_url)
    check(ui.text("#results-heading").startswith("More like"), ui.text("#results-heading"))
    similar = ui.ids()
    check(similar and target not in similar, f"similar view excludes {target}: {similar[:5]}")
    check(set(ui.card_text(".category")) == {name}, "the filter holds in the similar view")

    # A market filter (only the folder shop has markets).
    ui.open("/")
    ui.submit_search("shoes")
    value, _ = ui.choose("market", "cz")
    markets = ui.card_text(".market")
    check(markets and set(markets) == {"cz"}, f"every result is in market cz: {markets}")
    check(len(markets) == sum(1 for _, meta in shop_items.values() if meta.get("market") == "cz"), f"all cz products: {markets}")

    # Search modes: keyword finds the product by the words of its name; explain shows the
    # retrievers' ranks; hybrid fuses keyword and CLIP; the choice survives paging links.
    ui.open("/")
    Select(driver.find_element(By.ID, "mode")).select_by_value("keyword")
    driver.find_element(By.ID, "explain").click()
    ui.submit_search("leather boot")
    check("mode=keyword" in driver.current_url and "explain=true" in driver.current_url, driver.current_url)
    check(ui.card_text(".name")[:1] == ["leather boot"], f"keyword mode finds the boot first: {ui.card_text('.name')[:3]}")
    explained = ui.card_text(".explain")
    check(explained and "keyword: #1" in explained[0], f"the first result explained: {explained[:1]}")
    check(Select(driver.find_element(By.ID, "mode")).first_selected_option.get_attribute("value") == "keyword", "the mode stays chosen")
    check(driver.find_element(By.ID, "explain").is_selected(), "explain stays ticked")
    Select(driver.find_element(By.ID, "mode")).select_by_value("hybrid")
    ui.submit_search("leather boot")
    check("mode=hybrid" in driver.current_url, driver.current_url)
    check("leather boot" in ui.card_text(".name")[:3], f"hybrid keeps the keyword match near the top: {ui.card_text('.name')[:3]}")
    explained = ui.card_text(".explain")
    check(any("clip: #" in e for e in explained) and any("keyword: #" in e for e in explained), f"hybrid explains both: {explained[:2]}")
    fused = [float(e.split("fused: ")[1].split()[0]) for e in explained]
    check(fused == sorted(fused, reverse=True), f"fused scores best first: {fused[:5]}")
    driver.save_screenshot(str(Path(artifacts) / "ui-hybrid.png"))
    # Text mode: the sentence model finds the boot by a paraphrase that shares none of its words,
    # and hybrid explains the text retriever beside the others.
    Select(driver.find_element(By.ID, "mode")).select_by_value("text")
    ui.submit_search("footwear made of hide")
    check("mode=text" in driver.current_url, driver.current_url)
    check("leather boot" in ui.card_text(".name")[:3], f"text mode finds the boot by meaning: {ui.card_text('.name')[:3]}")
    scores = [float(s.split()[-1]) for s in ui.card_text(".score")]
    check(scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores), f"cosine scores, best first: {scores[:5]}")
    Select(driver.find_element(By.ID, "mode")).select_by_value("hybrid")
    ui.submit_search("footwear made of hide")
    explained = ui.card_text(".explain")
    check(any("text: #" in e for e in explained), f"hybrid explains the text retriever: {explained[:2]}")
    driver.save_screenshot(str(Path(artifacts) / "ui-text.png"))
    Select(driver.find_element(By.ID, "mode")).select_by_value("clip")
    driver.find_element(By.ID, "explain").click()
    ui.submit_search("leather boot")
    check("explain=" not in driver.current_url and not any(ui.card_text(".explain")), f"clip mode without explanations: {driver.current_url}")

    # Photo upload through the script: the photo's own product comes first, then pages.
    ui.open("/")
    tote = photos / shop_items["bags/tote.webp"][0]
    ui.upload(tote)
    ui.wait_for_photo_results()
    check(ui.ids()[0] == "bags/tote", f"the uploaded photo's product first: {ui.ids()[:3]}")
    check(float(ui.card_text(".score")[0].split()[-1]) > 0.999, "its score is ~1")
    check(len(ui.ids()) == PER_PAGE, f"a full page of photo results: {len(ui.ids())}")
    page_one = ui.ids()
    driver.find_element(By.CSS_SELECTOR, "#pager button[data-rel=next]").click()
    ui.wait_for_photo_results(previous=page_one)
    check(not set(page_one) & set(ui.ids()), "photo results page 2 differs")
    check(ui.text("#status").startswith("Results 25–"), ui.text("#status"))
    # Filters re-run the photo search.
    Select(driver.find_element(By.ID, "category")).select_by_value("bags")
    ui.wait.until(lambda d: set(ui.card_text(".category")) == {"bags"})
    check(ui.ids()[0] == "bags/tote", "filtered photo search")

    # A file that is not an image: the API's message is shown.
    with tempfile.NamedTemporaryFile(suffix=".png", delete=False) as bogus:
        bogus.write(b"this is not a PNG")
    ui.upload(bogus.name)
    ui.wait.until(lambda d: ui.alert())
    check("image" in ui.alert().lower(), f"error message for a bad upload: {ui.alert()!r}")

    # Catalog text is shown as text, never run.
    ui.open("/?q=anything&category=xss")
    names = ui.card_text(".name")
    check(names == [xss_name], f"the XSS product is listed by its literal name: {names}")
    check(driver.execute_script("return window.__xss === undefined"), "no injected script ran")
    ui.navigate(lambda: driver.find_element(By.CSS_SELECTOR, "#results a.more").click())
    check("similar=" in driver.current_url, driver.current_url)
    check(xss_name in ui.text("#results-heading"), "the similar heading shows the literal name")
    check(driver.execute_script("return window.__xss === undefined"), "no injected script ran in the similar view")

    # The keyboard reaches the drop zone and the results.
    ui.open("/?q=dress")
    driver.execute_script("document.activeElement && document.activeElement.blur()")
    reached = set()
    for _ in range(20):
        ActionChains(driver).send_keys(Keys.TAB).perform()
        active = driver.switch_to.active_element
        reached.add(active.get_attribute("id") or active.get_attribute("class"))
        if "more" in (active.get_attribute("class") or ""):
            break
    check("drop" in reached, f"Tab reaches the drop zone: {reached}")
    check("more" in reached, f"Tab reaches a result's link: {reached}")

    # A phone's width: the grid reflows to two columns at most.
    driver.set_window_size(390, 844)
    ui.open("/?q=dress")
    lefts = {round(card.rect["x"]) for card in ui.cards()}
    check(1 <= len(lefts) <= 2, f"columns at a phone's width: {sorted(lefts)}")
    width = driver.execute_script("return document.documentElement.scrollWidth")
    check(width <= 390, f"no horizontal scrolling at a phone's width: {width}")
    driver.save_screenshot(str(Path(artifacts) / "ui-phone.png"))
