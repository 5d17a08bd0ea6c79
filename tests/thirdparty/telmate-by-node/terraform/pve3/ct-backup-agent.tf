resource "proxmox_lxc" "lxc_202_backup_agent" {
  vmid         = 202
  hostname     = "backup-agent"
  target_node  = var.node
  tags         = "ops"
  onboot       = false
  start        = false
  template     = false
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
    hwaddr = "BC:24:11:02:02:02"
    ip     = "dhcp"
  }
}
