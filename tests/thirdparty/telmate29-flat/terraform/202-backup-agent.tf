resource "proxmox_lxc" "ct_backup_agent" {
  target_node  = "pve3"
  vmid         = 202
  hostname     = "backup-agent"
  tags         = "ops"
  ostype       = "debian"
  unprivileged = true
  cores        = 1
  memory       = 512
  swap         = 512
  start        = false

  rootfs {
    storage = "local-lvm"
    size    = "4G"
  }

  network {
    name   = "eth0"
    bridge = "vmbr0"
    hwaddr = "BC:24:11:02:02:02"
    ip     = "dhcp"
  }
}

import {
  to = proxmox_lxc.ct_backup_agent
  id = "pve3/lxc/202"
}
