"""``hybridnas completion {bash,zsh,tcsh}``: a shell completion script on stdout (shtab).

    hybridnas completion bash > ~/.local/share/bash-completion/completions/hybridnas
    hybridnas completion zsh > ~/.zfunc/_hybridnas   # a folder on $fpath
"""

HELP = "print a shell completion script (bash, zsh, tcsh); needs hybridnas[completion]"
SHELLS = ("bash", "zsh", "tcsh")


def add_parser(sub):
    p = sub.add_parser("completion", help=HELP, description=HELP + ". Bash: hybridnas completion bash > "
                       "~/.local/share/bash-completion/completions/hybridnas")
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")
    return p


def run(args) -> int:
    from ..errors import require
    from .main import build_parser

    shtab = require("shtab", "completion", "shell completion")
    print(shtab.complete(build_parser(), shell=args.shell))
    return 0
