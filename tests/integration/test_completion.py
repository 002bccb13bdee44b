"""``hybridnas completion bash`` writes a script bash accepts and that completes subcommands and
their flags (run in a real bash)."""

import shutil
import subprocess

import pytest

from hybridnas.cli.main import main

pytest.importorskip("shtab")


def complete(script, words):
    line = " ".join(words)
    code = (f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; COMP_LINE='{line}'; "
            "COMP_POINT=${#COMP_LINE}; _shtab_hybridnas; echo \"${COMPREPLY[@]}\"")
    return subprocess.run(["bash", "-c", code], capture_output=True, text=True, timeout=60).stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completion_completes_commands_and_flags(tmp_path, capsys):
    assert main(["completion", "bash"]) == 0
    script = tmp_path / "hybridnas.bash"
    script.write_text(capsys.readouterr().out)
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    assert complete(script, ["hybridnas", "co"]) == ["compare", "completion"]
    assert complete(script, ["hybridnas", "search", "--init"]) == ["--init-from"]
    assert "--json" in complete(script, ["hybridnas", "pick", "--js"])


def test_zsh_completion_names_the_command(capsys):
    assert main(["completion", "zsh"]) == 0
    assert capsys.readouterr().out.startswith("#compdef hybridnas")
