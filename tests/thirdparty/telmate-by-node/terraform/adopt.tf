import {
  to = module.pve1.proxmox_vm_qemu.qemu_100_tmpl_debian12
  id = "pve1/qemu/100"
}
import {
  to = module.pve1.proxmox_vm_qemu.qemu_101_web_01
  id = "pve1/qemu/101"
}
import {
  to = module.pve1.proxmox_vm_qemu.qemu_103_db_01
  id = "pve1/qemu/103"
}
import {
  to = module.pve1.proxmox_lxc.lxc_200_dns_01
  id = "pve1/lxc/200"
}
import {
  to = module.pve2.proxmox_vm_qemu.qemu_102_web_02
  id = "pve2/qemu/102"
}
import {
  to = module.pve2.proxmox_vm_qemu.qemu_104_monitoring
  id = "pve2/qemu/104"
}
import {
  to = module.pve2.proxmox_vm_qemu.qemu_107_gitlab_runner
  id = "pve2/qemu/107"
}
import {
  to = module.pve2.proxmox_lxc.lxc_201_proxy
  id = "pve2/lxc/201"
}
import {
  to = module.pve3.proxmox_vm_qemu.qemu_105_dev_sandbox
  id = "pve3/qemu/105"
}
import {
  to = module.pve3.proxmox_vm_qemu.qemu_106_win_build
  id = "pve3/qemu/106"
}
import {
  to = module.pve3.proxmox_lxc.lxc_202_backup_agent
  id = "pve3/lxc/202"
}
import {
  to = module.pve3.proxmox_lxc.lxc_203_tmpl_debian12_ct
  id = "pve3/lxc/203"
}
