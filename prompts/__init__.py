"""The bilingual prompt suite (shipped as ``vbench_cn._prompts``)."""
