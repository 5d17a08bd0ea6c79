resource "proxmox_lxc" "ct_tmpl_debian12_ct" {
  target_node  = "pve3"
  vmid         = 203
  hostname     = "tmpl-debian12-ct"
  tags         = "template"
  ostype       = "debian"
  unprivileged = true
  cores        = 1
  memory       = 512
  swap         = 512
  start        = false
  template     = true

  rootfs {
    storage = "local-lvm"
    size    = "4G"
  }

  network {
    name   = "eth0"
    bridge = "vmbr0"
    hwaddr = "BC:24:11:02:03:02"
    ip     = "dhcp"
  }
}

import {
  to = proxmox_lxc.ct_tmpl_debian12_ct
  id = "pve3/lxc/203"
}
