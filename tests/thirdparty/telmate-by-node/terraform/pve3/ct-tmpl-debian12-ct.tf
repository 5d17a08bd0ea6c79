resource "proxmox_lxc" "lxc_203_tmpl_debian12_ct" {
  vmid         = 203
  hostname     = "tmpl-debian12-ct"
  target_node  = var.node
  tags         = "template"
  onboot       = false
  start        = false
  template     = true
  unprivileged = true
  ostype       = "debian"
  arch         = "amd64"
  cores        = 1
  memory       = 512
  swap         = 512

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
