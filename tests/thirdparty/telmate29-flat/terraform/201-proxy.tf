resource "proxmox_lxc" "ct_proxy" {
  target_node  = "pve2"
  vmid         = 201
  hostname     = "proxy"
  tags         = "infra"
  ostype       = "debian"
  unprivileged = true
  cores        = 2
  memory       = 1024
  swap         = 512
  start        = true

  rootfs {
    storage = "local-lvm"
    size    = "8G"
  }

  network {
    name   = "eth0"
    bridge = "vmbr0"
    hwaddr = "BC:24:11:02:01:02"
    ip     = "dhcp"
  }
}

import {
  to = proxmox_lxc.ct_proxy
  id = "pve2/lxc/201"
}
