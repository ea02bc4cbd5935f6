"""The published board as a web page, opened in a real headless browser (Chromium from the Debian package,
driven by Playwright) with every network request refused."""

import os
import re
import shutil

import pytest

pytestmark = [pytest.mark.usefixtures("registered"), pytest.mark.slow]


def chromium() -> str | None:
    for name in (os.environ.get("RWKV_MTEB_CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome"):
        if name and (path := shutil.which(name)):
            return path
    return None


@pytest.fixture(scope="module")
def board(results, tmp_path_factory, shared_data):
    from rwkv_mteb.board.publish import publish

    out = tmp_path_factory.mktemp("page") / "lb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RWKV_MTEB_DATA_DIR", str(shared_data))
        data = publish([results], out, ["rwkv-mteb", "leaderboard", "--results", "RESULTS", "--out", "OUT"]).model_dump(
            mode="json"
        )
    return out / "index.html", data


@pytest.fixture(scope="module")
def browser():
    path = chromium()
    if path is None:
        pytest.skip("no Chromium installed: `apt-get install chromium` (scripts/test.sh does it where it can)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        launched = driver.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def page(browser, board):
    """The page, loaded from file:// with the network cut off; console errors and outside requests recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside: list[str] = []

    def route(request_route):
        if request_route.request.url.startswith("file:"):
            request_route.continue_()
        else:
            outside.append(request_route.request.url)
            request_route.abort()

    context.route("**/*", route)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(board[0].as_uri())
    tab.wait_for_function("window.rwkvMtebBoard !== undefined")
    tab.errors, tab.outside = errors, outside
    yield tab
    context.close()


def groups(data):
    return sorted({f"{e['task']} / {e['split']}" for e in data["entries"]})


def show(page, group):
    page.click(f'nav#groups button[data-group="{group}"]')
    return page.eval_on_selector_all("#scores tbody tr", "rows => rows.map(r => r.dataset.model)")


def test_loads_without_errors_or_network(page, board):
    html = board[0].read_text()
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?:', html)
    assert page.errors == [] and page.outside == []
    assert page.title() == "rwkv-mteb leaderboard"


def series_of(e):
    return e["model"] if e["layer"] is None else (e["base_model"], e["pooling"], e["prompt"], e["ablate"])


def test_one_row_per_model_and_method_at_its_best_layer(page, board):
    """Folded by default: a sweep's row is its best layer (the board's layer_sweeps); unfolded, every entry with
    the board's numbers."""
    data = board[1]
    best = {(s["task"], s["split"], s["base_model"], s["pooling"], s["prompt"], s["ablate"]): s["best_layer"]
            for s in data["layer_sweeps"]}  # fmt: skip
    for group in groups(data):
        entries = {e["model"]: e for e in data["entries"] if f"{e['task']} / {e['split']}" == group}
        heads = [
            m
            for m, e in entries.items()
            if e["layer"] is None or best[(e["task"], e["split"], *series_of(e))] == e["layer"]
        ]
        assert sorted(show(page, group)) == sorted(heads)
        assert len(heads) == len({series_of(e) for e in entries.values()})
        page.click("#expand-all")
        models = page.eval_on_selector_all("#scores tbody tr.layer-row, #scores tbody tr.series:not(:has(button.fold))",
                                           "rows => rows.map(r => r.dataset.model)")  # fmt: skip
        assert sorted(models) == sorted(entries)
        cells = page.eval_on_selector_all(
            '#scores tbody tr.layer-row td[data-key="main_score"]', "cells => cells.map(c => c.textContent)"
        )
        rows = page.eval_on_selector_all("#scores tbody tr.layer-row", "rows => rows.map(r => r.dataset.model)")
        assert cells == [f"{entries[m]['main_score']:.4f}" for m in rows]
        page.click("#collapse-all")
    assert page.errors == []


def test_a_fold_opens_and_closes_one_series(page):
    show(page, "MRPCZeroShot / validation")
    fold = 'button.fold[data-series="MRPCZeroShot|validation|RWKV/v6-Finch-1B6-HF|mean|none|none"]'
    page.click(fold)
    layers = page.eval_on_selector_all(
        '#scores tbody tr.layer-row td[data-key="layer"]', "cells => cells.map(c => c.textContent)"
    )
    assert layers == ["0", "1", "2", "3"] and page.get_attribute(fold, "aria-expanded") == "true"
    page.click(fold)
    assert page.eval_on_selector_all("#scores tbody tr.layer-row", "rows => rows.length") == 0


def test_every_column_visible_at_1280_px(page):
    show(page, "MRPCZeroShot / validation")
    page.click("#expand-all")
    for wrap in ("#table-section .table-wrap",):
        assert page.evaluate(f"(w => w.scrollWidth <= w.clientWidth + 1)(document.querySelector('{wrap}'))"), wrap
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def mrpc_rows(shared_data, split):
    import csv

    with (shared_data / "mrpc" / f"{split}.tsv").open(encoding="utf-8") as handle:
        return list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))[1:]


def test_pair_explorer_shows_a_known_pair(page, results, shared_data):
    """The first MRPC validation pair: its texts and label as the TSV has them, each model's cosine as MTEB's
    prediction file has it; the high-scoring non-paraphrases are gold 0, by the first model's cosine."""
    import json

    page.click("#pairs-load")
    page.wait_for_function("window.rwkvMtebBoard.pairs() !== null")
    page.select_option("#pair-group", "MRPCZeroShot / validation")
    page.select_option("#pair-sort", "index")
    models = page.eval_on_selector_all("#pair-models input:checked", "inputs => inputs.map(i => i.value)")
    assert "stanfordnlp/glove.6B.50d" in models and len(models) == 3
    first = page.eval_on_selector('#pairs tbody tr[data-index="0"]', "r => Array.from(r.cells).map(c => c.textContent)")
    label, _, _, text1, text2 = mrpc_rows(shared_data, "validation")[0]
    assert first[1:3] == [text1, text2] and float(first[3]) == float(label)
    glove = json.loads(
        (results / "predictions" / "stanfordnlp__glove.6B.50d" / "MRPCZeroShot_predictions.json").read_text()
    )
    cosine = page.eval_on_selector(
        '#pairs tbody tr[data-index="0"] td[data-model="stanfordnlp/glove.6B.50d"]', "c => c.textContent"
    )
    assert cosine == f"{glove['default']['validation']['cosine_scores'][0]:.4f}"
    page.click("#pairs-high")
    rows = page.eval_on_selector_all(
        "#pairs tbody tr", "rows => rows.map(r => Array.from(r.cells).map(c => c.textContent))"
    )
    assert rows and all(float(r[3]) == 0 for r in rows)
    top = [float(r[4]) for r in rows]
    assert top == sorted(top, reverse=True)
    page.select_option("#pair-sort", "models")  # between the models: a defined order, no error
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert page.errors == [] and page.outside == []


def test_sorting_by_a_column_reorders_the_rows(page, board):
    group = "MRPCZeroShot / validation"
    descending = show(page, group)
    scores = {e["model"]: e["main_score"] for e in board[1]["entries"] if e["split"] == "validation"}
    # equal scores (an intervention after the pooled layer changes nothing) may come in either order
    assert [scores[m] for m in descending] == sorted((scores[m] for m in descending), reverse=True)
    page.focus('th button[data-key="main_score"]')
    page.keyboard.press("Enter")  # keyboard works as well as a click
    ascending = page.eval_on_selector_all("#scores tbody tr", "rows => rows.map(r => r.dataset.model)")
    assert [scores[m] for m in ascending] == sorted(scores[m] for m in descending)
    assert page.get_attribute('th:has(button[data-key="main_score"])', "aria-sort") == "ascending"
    page.click('th button[data-key="model"]')
    by_name = page.eval_on_selector_all("#scores tbody tr", "rows => rows.map(r => r.dataset.model)")
    assert by_name == sorted(descending, reverse=True)


def test_family_filter_hides_rows(page):
    show(page, "MRPCZeroShot / validation")
    page.uncheck('#family-filter input[value="glove"]')
    assert "stanfordnlp/glove.6B.50d" not in page.eval_on_selector_all(
        "#scores tbody tr", "rows => rows.map(r => r.dataset.model)"
    )


def test_layer_plot_has_a_trace_per_model_and_method_and_toggles(page, board):
    show(page, "MRPCZeroShot / validation")
    layerwise = {
        (e["base_model"], e["pooling"], e["ablate"])
        for e in board[1]["entries"]
        if e["split"] == "validation" and e["layer"] is not None
    }
    roles = page.evaluate("document.getElementById('layers').data.map(t => t.meta.role)")
    assert roles.count("curve") == len(layerwise) == 2  # intact and with time_mix@1 zeroed
    assert roles.count("reference") == 1  # GloVe
    key = "RWKV/v6-Finch-1B6-HF (mean)"
    page.uncheck(f'#model-toggles input[data-key="{key}"]')
    visible = page.evaluate(
        f"document.getElementById('layers').data.filter(t => t.meta.key === {key!r}).map(t => t.visible)"
    )
    assert visible and all(v == "legendonly" for v in visible)
    page.check(f'#model-toggles input[data-key="{key}"]')
    visible = page.evaluate(
        f"document.getElementById('layers').data.filter(t => t.meta.key === {key!r}).map(t => t.visible)"
    )
    assert all(v is True for v in visible)


def test_phone_width_and_dark_theme(browser, board):
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")
    tab = context.new_page()
    errors = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(board[0].as_uri())
    tab.wait_for_function("window.rwkvMtebBoard !== undefined")
    assert tab.evaluate("document.documentElement.dataset.theme") == "dark"
    assert tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")  # the table scrolls itself
    tab.click("#theme-toggle")
    assert tab.evaluate("document.documentElement.dataset.theme") == "light" and errors == []
    context.close()


def test_interventions_regret_and_analysis_sections(page, board):
    """The selected split's intervention rows carry the board's numbers; the regret table has a row per metric;
    analyze's four panels have the analysed model's curve."""
    data = board[1]
    show(page, "MRPCZeroShot / validation")
    cells_of = "rows => rows.map(r => Array.from(r.cells).map(c => c.textContent))"
    rows = page.eval_on_selector_all("#interventions tbody tr", cells_of)
    expected = [r for r in data["interventions"] if r["split"] == "validation"]
    assert len(rows) == len(expected) == 4
    for cells, r in zip(rows, expected, strict=True):
        assert cells[1] == "time_mix@1" and cells[2] == str(r["layer"]) and cells[4] == f"{r['score']:.4f}"
    regret = page.eval_on_selector_all("#regret tbody tr", "rows => rows.length")
    assert regret == len(data["layer_choice_regret"]) > 0
    for panel in ("analysis-spectra", "analysis-memory", "analysis-gradients", "analysis-cka"):
        names = page.evaluate(f"document.getElementById('{panel}').data.map(t => t.name)")
        assert names == ["RWKV/v6-Finch-1B6-HF / MRPCZeroShot"], panel
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert page.errors == []
