resource "proxmox_lxc" "lxc_201_proxy" {
  vmid         = 201
  hostname     = "proxy"
  target_node  = var.node
  tags         = "infra"
  onboot       = false
  start        = true
  template     = false
  unprivileged = true
  ostype       = "debian"
  arch         = "amd64"
  cores        = 2
  memory       = 1024
  swap         = 512

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
