resource "proxmox_vm_qemu" "qemu_101_web_01" {
  vmid        = 101
  name        = "web-01"
  description = ""
  target_node = var.node
  tags        = "production;web"
  pool        = "prod"
  onboot      = false
  vm_state    = "running"
  agent       = 0
  qemu_os     = "l26"
  scsihw      = "virtio-scsi-single"
  boot        = "order=scsi0;net0"
  memory      = 4096

  cpu {
    cores   = 2
    sockets = 1
  }

  disks {
    scsi {
      scsi0 {
        disk {
          storage  = "ceph-vm"
          size     = "32G"
          iothread = true
        }
      }
    }
  }

  network {
    id       = 0
    model    = "virtio"
    bridge   = "vmbr0"
    macaddr  = "BC:24:11:01:01:01"
    firewall = true
  }
}
