from __future__ import annotations

from pathlib import Path

from pipeline.ci.github import annotation, append_summary, in_actions, set_output


def test_annotation_escapes_message_and_properties() -> None:
    line = annotation("error", "bad: 50%\nsecond", file="data/raw/a,b.csv", line=3, title="data gate")
    assert line == "::error file=data/raw/a%2Cb.csv,line=3,title=data gate::bad: 50%25%0Asecond"


def test_outside_actions_nothing_is_written(tmp_path: Path) -> None:
    assert not in_actions({})
    assert append_summary("# x", env={}) is False
    assert set_output("k", "v", env={}) is False


def test_summary_and_outputs_append_to_the_files_github_gives(tmp_path: Path) -> None:
    summary, output = tmp_path / "summary.md", tmp_path / "output"
    env = {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(output), "GITHUB_ACTIONS": "true"}
    assert in_actions(env)
    append_summary("### one", env=env)
    append_summary("### two", env=env)
    set_output("accuracy", "0.97\nsecond line", env=env)
    assert summary.read_text() == "### one\n\n### two\n\n"
    text = output.read_text()
    assert text.startswith("accuracy<<") and "0.97\nsecond line\n" in text
