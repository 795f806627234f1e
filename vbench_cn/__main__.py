"""``python -m vbench_cn`` (used under torchrun) runs the CLI."""

from vbench_cn.cli import main

main()
