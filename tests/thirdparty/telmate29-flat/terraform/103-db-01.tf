resource "proxmox_vm_qemu" "vm_db_01" {
  name        = "db-01"
  vmid        = 103
  target_node = var.default_node
  tags        = "db;production"
  qemu_os     = "l26"
  scsihw      = "virtio-scsi-single"
  boot        = "order=scsi0;net0"
  cores       = 4
  sockets     = 2
  memory      = 16384
  pool        = "prod"

  disk {
    type     = "scsi"
    storage  = "ceph-vm"
    size     = "64G"
    iothread = 1
  }

  disk {
    type     = "scsi"
    storage  = "ceph-vm"
    size     = "200G"
    iothread = 1
  }

  network {
    model    = "virtio"
    bridge   = "vmbr0"
    macaddr  = "BC:24:11:01:03:01"
    firewall = true
  }
}

import {
  to = proxmox_vm_qemu.vm_db_01
  id = "pve1/qemu/103"
}
