resource "proxmox_vm_qemu" "vm_monitoring" {
  name        = "monitoring"
  vmid        = 104
  target_node = "pve2"
  tags        = "ops"
  qemu_os     = "l26"
  scsihw      = "virtio-scsi-single"
  boot        = "order=scsi0;net0"
  cores       = 2
  sockets     = 1
  memory      = 8192

  disk {
    type     = "scsi"
    storage  = "local-lvm"
    size     = "100G"
    iothread = 1
  }

  network {
    model    = "virtio"
    bridge   = "vmbr0"
    macaddr  = "BC:24:11:01:04:01"
    firewall = true
  }
}

import {
  to = proxmox_vm_qemu.vm_monitoring
  id = "pve2/qemu/104"
}
