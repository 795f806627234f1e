"""Built-in dimension specs, one TOML file per dimension (shipped as ``vbench_cn._dimensions``)."""
