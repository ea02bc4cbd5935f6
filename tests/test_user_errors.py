"""Every user error a command can meet ends in one ``error:`` line that names the problem and the fix, never a
traceback: a task whose file was skipped, an unknown task name, a hub-only task while offline, a prompt
template without ``{text}``. Run through the installed commands, as a user would."""

import pytest

from tests.conftest import cli_env, run

pytestmark = pytest.mark.slow

BROKEN = """name = "BrokenTask"
description = "a task file with a typo in a key"
[local]
folder = "mrpc"
columns = {sentence1 = "#1 String", sentence2 = "#2 String", score = "Quality"}
[score]
min = 0
max = 1
[splits.validation]
rows = 408
sha265 = "0000"
"""


def one_error_line(proc) -> str:  # type: ignore[no-untyped-def]
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    return errors[0]


@pytest.mark.parametrize("command", [["mteb", "run"], ["rwkv-mteb", "run"]])
def test_a_skipped_task_asked_for_by_name_says_why_it_was_skipped(command, tmp_path, shared_data):
    folder = tmp_path / "tasks"
    folder.mkdir()
    (folder / "broken.toml").write_text(BROKEN)
    env = cli_env(RWKV_MTEB_TASKS_DIR=str(folder), RWKV_MTEB_DATA_DIR=str(shared_data))
    proc = run(command[0], *command[1:], "-m", "stanfordnlp/glove.6B.50d", "-t", "BrokenTask", env=env)
    line = one_error_line(proc)
    assert line.startswith("error: task 'BrokenTask' was not registered: its task file was skipped (")
    assert str(folder / "broken.toml") in line and "unknown key 'sha265'" in line and "did you mean 'sha256'" in line


def test_an_unknown_task_name_gets_close_matches(shared_data):
    proc = run("mteb", "run", "-m", "stanfordnlp/glove.6B.50d", "-t", "MRPCZeroSht")
    line = one_error_line(proc)
    assert "unknown task 'MRPCZeroSht'" in line and "did you mean 'MRPCZeroShot'" in line


def test_a_hub_only_task_offline_is_one_line(tmp_path):
    proc = run("mteb", "run", "-m", "stanfordnlp/glove.6B.50d", "-t", "STSBenchmark", "--output-folder", str(tmp_path))
    line = one_error_line(proc)
    assert line.startswith("error: task STSBenchmark loads its data (mteb/stsbenchmark-sts) from the Hugging Face")
    assert "STSBenchmarkZeroShot" in line  # the local task that reads the same data


def test_a_prompt_template_without_its_placeholder_is_one_line():
    proc = run("rwkv-mteb", "sweep", "-m", "RWKV/v6-Finch-1B6-HF", "--prompt", "no placeholder")
    line = one_error_line(proc)
    assert line == (
        "error: prompt 'no placeholder' is neither a built-in (none, eol, echo) nor a template: put {text} where the "
        "sentence goes, e.g. 'Summarize: {text}'"
    )
