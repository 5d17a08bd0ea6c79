resource "proxmox_lxc" "ct_dns_01" {
  target_node  = var.default_node
  vmid         = 200
  hostname     = "dns-01"
  tags         = "infra;production"
  ostype       = "debian"
  unprivileged = true
  cores        = 1
  memory       = 512
  swap         = 512
  start        = true
  pool         = "prod"

  rootfs {
    storage = "local-lvm"
    size    = "8G"
  }

  network {
    name   = "eth0"
    bridge = "vmbr0"
    hwaddr = "BC:24:11:02:00:02"
    ip     = "dhcp"
  }
}

import {
  to = proxmox_lxc.ct_dns_01
  id = "pve1/lxc/200"
}
