resource "proxmox_lxc" "lxc_200_dns_01" {
  vmid         = 200
  hostname     = "dns-01"
  target_node  = var.node
  tags         = "infra;production"
  pool         = "prod"
  onboot       = false
  start        = true
  template     = false
  unprivileged = true
  ostype       = "debian"
  arch         = "amd64"
  cores        = 1
  memory       = 512
  swap         = 512

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
