"""A session libvirt daemon of its own for the e2e tests (Debian's libvirtd),
and domains that run our QEMU (TCG) with our kernel and the hballoon device.

Libvirtd starts libvirtd in session mode as the unprivileged user htiertest
(created when missing), with its own directories and socket, so it touches
nothing of the host's libvirt; the domain XML adds the device through
<qemu:commandline> at a pinned PCI address, as the operator guide shows.
GuestAgent speaks tests/guest/htier-agent's protocol over a domain's second serial
port, a unix socket, as htiervm.VM does over QEMU's stdio."""

import base64
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytap
from htiervm import BUILD

USER = "htiertest"
LIBVIRTD = "/usr/sbin/libvirtd"
# A domain of two nodes (the CPUs on the first) that runs our QEMU (TCG)
# with the hballoon device at a pinned PCI address; {os} says how it boots.
DOMAIN_XML = """<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>{name}</name>
  <memory unit='MiB'>{memory}</memory>
  <vcpu>{vcpus}</vcpu>{os}
  <features><acpi/><apic/></features>
  <cpu mode='custom' match='exact'><model fallback='allow'>qemu64</model>
    <numa>
      <cell id='0' cpus='0-{last_cpu}' memory='{fast}' unit='MiB'/>
      <cell id='1' memory='{slow}' unit='MiB'/>
    </numa>
  </cpu>
  <devices>
    <emulator>{dir}/qemu-system-x86_64</emulator>{disk}
    <serial type='file'><source path='{dir}/{name}.console'/><target port='0'/></serial>
    <serial type='unix'><source mode='bind' path='{dir}/{name}.agent'/><target port='1'/></serial>
    <memballoon model='none'/>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-device'/>
    <qemu:arg value='{{"driver":"virtio-hballoon-pci","id":"hb0","bus":"{bus}","addr":"{addr}"}}'/>
  </qemu:commandline>
</domain>
"""
# Our kernel and initramfs on the pc machine.
KERNEL_OS = """
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{dir}/bzImage</kernel>
    <initrd>{dir}/initramfs.cpio.gz</initrd>
    <cmdline>console=ttyS0 no_timer_check {cmdline}</cmdline>
  </os>"""
# The guest image (make image) on q35: UEFI (the firmware libvirt picks from
# the ovmf package's descriptors), its own GRUB and systemd, the agent asked
# for through fw_cfg as tests/lib/htiervm.py does; the device goes to the
# slot the operator guide pins on q35 (0x1b of pcie.0).
IMAGE_OS = """
  <sysinfo type='fwcfg'><entry name='opt/org.htier/agent'>1</entry></sysinfo>
  <os firmware='efi'>
    <type arch='x86_64' machine='q35'>hvm</type>
    <firmware><feature enabled='no' name='secure-boot'/></firmware>
  </os>"""
IMAGE_DISK = """
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='{dir}/{name}.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>"""
MiB = 1 << 20


class Libvirtd:
    """A session libvirtd of USER in a directory of its own."""

    def __init__(self):
        if os.geteuid() != 0:
            raise pytap.Skip("needs root (to run libvirtd as the test user)")
        if not os.access(LIBVIRTD, os.X_OK):
            raise pytap.Skip(f"{LIBVIRTD} missing (make deps installs libvirt-daemon)")
        try:
            pwd.getpwnam(USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                            "/usr/sbin/nologin", USER], check=True)
        self.ent = pwd.getpwnam(USER)
        self.dir = tempfile.mkdtemp(prefix="htier-libvirt-")
        self.uri = f"qemu+unix:///session?socket={self.dir}/run/libvirt/libvirt-sock"
        for d in ("home", "run"):
            os.makedirs(os.path.join(self.dir, d), mode=0o700)
        # The user's own copies: the clone may sit where it cannot read.
        for f in ("bzImage", "initramfs.cpio.gz", "qemu-system-x86_64", "hballoonctl",
                  "hballoond"):
            shutil.copy(os.path.join(BUILD, f), self.dir)
        for root, dirs, files in os.walk(self.dir):
            for n in dirs + files:
                os.chown(os.path.join(root, n), self.ent.pw_uid, self.ent.pw_gid)
        os.chown(self.dir, self.ent.pw_uid, self.ent.pw_gid)
        self.env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": f"{self.dir}/home",
                    "XDG_RUNTIME_DIR": f"{self.dir}/run",
                    "XDG_CONFIG_HOME": f"{self.dir}/home/.config",
                    "XDG_CACHE_HOME": f"{self.dir}/home/.cache",
                    "XDG_DATA_HOME": f"{self.dir}/home/.local/share"}
        self.proc = None
        self.start()

    def _as_user(self):
        os.setgroups([])
        os.setgid(self.ent.pw_gid)
        os.setuid(self.ent.pw_uid)

    def start(self):
        self.log = open(os.path.join(self.dir, "libvirtd.log"), "a")
        self.proc = subprocess.Popen([LIBVIRTD], env=self.env, preexec_fn=self._as_user,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        sock = os.path.join(self.dir, "run", "libvirt", "libvirt-sock")
        deadline = time.monotonic() + 60
        while not os.path.exists(sock) or self.run("virsh", "-c", self.uri, "uri").returncode:
            assert self.proc.poll() is None, "libvirtd exited:\n" + self.log_tail()
            assert time.monotonic() < deadline, "libvirtd did not answer in 60 s"
            time.sleep(0.2)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def log_tail(self):
        with open(os.path.join(self.dir, "libvirtd.log"), errors="replace") as f:
            return "".join(f.readlines()[-15:])

    def run(self, *cmd, timeout=200):
        return subprocess.run(list(cmd), env=self.env, preexec_fn=self._as_user,
                              capture_output=True, text=True, timeout=timeout)

    def virsh(self, *args):
        r = self.run("virsh", "-c", self.uri, *args)
        assert r.returncode == 0, f"virsh {' '.join(args)}: {r.stderr}"
        return r.stdout

    def qemu_pid(self, name):
        """The QEMU process that runs domain @name under this daemon."""
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
            except OSError:
                continue
            if f"guest={name},".encode() in (a[:len(name) + 7] for a in argv) and \
                    any(self.dir.encode() in a for a in argv):
                return int(pid)
        raise AssertionError(f"no QEMU process runs domain {name}")

    def ctl(self, *args, timeout=200):
        """hballoonctl --domain ... through this daemon: (exit code, stdout, stderr)."""
        r = self.run(os.path.join(self.dir, "hballoonctl"), "--connect", self.uri, *args,
                     timeout=timeout)
        return r.returncode, r.stdout, r.stderr

    def agent(self, name, timeout=180):
        """The guest agent of running domain @name, once it is ready."""
        return GuestAgent(os.path.join(self.dir, f"{name}.agent"), name, timeout)

    def ctl_bg(self, *args):
        return subprocess.Popen([os.path.join(self.dir, "hballoonctl"), "--connect", self.uri,
                                 *args], env=self.env, preexec_fn=self._as_user,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def _define(self, name, start, fast, slow, vcpus, os_xml, disk_xml, bus, addr):
        xml = os.path.join(self.dir, f"{name}.xml")
        with open(xml, "w") as f:
            f.write(DOMAIN_XML.format(name=name, dir=self.dir, fast=fast, slow=slow,
                                      memory=fast + slow, vcpus=vcpus, last_cpu=vcpus - 1,
                                      os=os_xml, disk=disk_xml, bus=bus, addr=addr))
        os.chown(xml, self.ent.pw_uid, self.ent.pw_gid)
        self.virsh("define", xml)
        if start:
            self.virsh("start", name)

    def define(self, name, start=True, fast=512, slow=512, cmdline="hplace=off"):
        """Define (and start) a domain of two nodes, @fast and @slow MiB."""
        self._define(name, start, fast, slow, 1,
                     KERNEL_OS.format(dir=self.dir, cmdline=cmdline), "", "pci.0", "0x1f")

    def define_image(self, name, image, fast=512, slow=1024):
        """Define and start a domain that boots a copy of the disk @image."""
        disk = os.path.join(self.dir, f"{name}.qcow2")
        shutil.copy(image, disk)
        os.chown(disk, self.ent.pw_uid, self.ent.pw_gid)
        self._define(name, True, fast, slow, 2, IMAGE_OS,
                     IMAGE_DISK.format(dir=self.dir, name=name), "pcie.0", "0x1b")

    def close(self):
        for name in self.run("virsh", "-c", self.uri, "list", "--name").stdout.split():
            self.run("virsh", "-c", self.uri, "destroy", name)
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class GuestAgent:
    """tests/guest/htier-agent on a domain's second serial port."""

    def __init__(self, path, name, timeout=180):
        self.name = name
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                assert time.monotonic() < deadline, f"{name}: no agent socket {path}"
                time.sleep(0.5)
        self.buf = b""
        self._until(lambda l: l == "@@HTIER-READY", deadline - time.monotonic(),
                    "agent not ready")

    def _line(self, deadline):
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            assert left > 0, "timeout"
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            assert chunk, f"{self.name}: agent connection closed"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace").rstrip("\r")

    def _until(self, match, timeout, why, collect=None):
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._line(deadline)
            except AssertionError as e:
                raise AssertionError(f"{self.name}: {why} ({e})")
            if match(line):
                return line
            if collect is not None:
                collect.append(line)

    def run(self, cmd, timeout=120):
        """(exit status, output) of a shell command in the guest."""
        rid = secrets.token_hex(6)
        self.sock.sendall((rid + " " + base64.b64encode(cmd.encode()).decode() +
                           "\n").encode())
        self._until(lambda l: l == f"@@HTIER-BEGIN {rid}", timeout, f"{cmd!r} did not start")
        out = []
        end = self._until(lambda l: l.startswith(f"@@HTIER-END {rid} "), timeout,
                          f"{cmd!r} timed out", out)
        if out and out[-1] == "":
            out.pop()
        return int(end.split()[2]), "\n".join(out)

    def sh(self, cmd, timeout=120):
        rc, out = self.run(cmd, timeout)
        assert rc == 0, f"{self.name}: `{cmd}` exited {rc}: {out[-2000:]}"
        return out

    def close(self):
        self.sock.close()
