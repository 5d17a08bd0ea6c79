resource "proxmox_vm_qemu" "vm_web_01" {
  name        = "web-01"
  vmid        = 101
  target_node = var.default_node
  tags        = "web;production"
  qemu_os     = "l26"
  scsihw      = "virtio-scsi-single"
  boot        = "order=scsi0;net0"
  cores       = 2
  sockets     = 1
  memory      = 4096
  pool        = "prod"

  disk {
    type     = "scsi"
    storage  = "ceph-vm"
    size     = "32G"
    iothread = 1
  }

  network {
    model    = "virtio"
    bridge   = "vmbr0"
    macaddr  = "BC:24:11:01:01:01"
    firewall = true
  }
}

import {
  to = proxmox_vm_qemu.vm_web_01
  id = "pve1/qemu/101"
}
