import {
  to = module.vm_tmpl_debian12.proxmox_virtual_environment_vm.this
  id = "pve1/100"
}

import {
  to = module.vm_web_01.proxmox_virtual_environment_vm.this
  id = "pve1/101"
}

import {
  to = module.vm_web_02.proxmox_virtual_environment_vm.this
  id = "pve2/102"
}

import {
  to = module.vm_db_01.proxmox_virtual_environment_vm.this
  id = "pve1/103"
}

import {
  to = module.vm_monitoring.proxmox_virtual_environment_vm.this
  id = "pve2/104"
}

import {
  to = module.vm_dev_sandbox.proxmox_virtual_environment_vm.this
  id = "pve3/105"
}

import {
  to = module.vm_win_build.proxmox_virtual_environment_vm.this
  id = "pve3/106"
}

import {
  to = module.vm_gitlab_runner.proxmox_virtual_environment_vm.this
  id = "pve2/107"
}

import {
  to = module.ct_dns_01.proxmox_virtual_environment_container.this
  id = "pve1/200"
}

import {
  to = module.ct_proxy.proxmox_virtual_environment_container.this
  id = "pve2/201"
}

import {
  to = module.ct_backup_agent.proxmox_virtual_environment_container.this
  id = "pve3/202"
}

import {
  to = module.ct_tmpl_debian12_ct.proxmox_virtual_environment_container.this
  id = "pve3/203"
}
