"""What pyproject.toml cannot say alone: the validation suite, the top-level ``validation/`` folder, is shipped as
the package ``pytest_proxmox_mpc.validation`` (``pytest --pyargs pytest_proxmox_mpc.validation`` from any folder),
beside every package of ``pytest_proxmox_mpc`` found here. Everything else is in pyproject.toml."""

from setuptools import find_packages, setup

VALIDATION = "pytest_proxmox_mpc.validation"

setup(packages=[*find_packages(include=["pytest_proxmox_mpc", "pytest_proxmox_mpc.*"]), VALIDATION],
      package_dir={VALIDATION: "validation"})
