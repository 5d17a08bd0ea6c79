import {
  to = proxmox_virtual_environment_vm.tmpl_debian12
  id = "pve1/100"
}

import {
  to = proxmox_virtual_environment_vm.web_01
  id = "pve1/101"
}

import {
  to = proxmox_virtual_environment_vm.web_02
  id = "pve2/102"
}

import {
  to = proxmox_virtual_environment_vm.db_01
  id = "pve1/103"
}

import {
  to = proxmox_virtual_environment_vm.monitoring
  id = "pve2/104"
}

import {
  to = proxmox_virtual_environment_vm.dev_sandbox
  id = "pve3/105"
}

import {
  to = proxmox_virtual_environment_vm.win_build
  id = "pve3/106"
}

import {
  to = proxmox_virtual_environment_vm.gitlab_runner
  id = "pve2/107"
}

import {
  to = proxmox_virtual_environment_container.dns_01
  id = "pve1/200"
}

import {
  to = proxmox_virtual_environment_container.proxy
  id = "pve2/201"
}

import {
  to = proxmox_virtual_environment_container.backup_agent
  id = "pve3/202"
}

import {
  to = proxmox_virtual_environment_container.tmpl_debian12_ct
  id = "pve3/203"
}
