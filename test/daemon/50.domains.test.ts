// A real QEMU guest (KVM when /dev/kvm exists, else TCG) on the private libvirtd: define,
// start, suspend/resume, managed save and restore, destroy, undefine.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { connect, DomainGetHostnameFlags, LibvirtError } from 'virtkit';
import { daemonUri } from '../helpers';

const target = daemonUri();
const codeOf = async (p: Promise<unknown>) => {
  const e = await p.then(() => null, (err: unknown) => err);
  return e instanceof LibvirtError ? e.codeName : String(e);
};

if ('skip' in target) {
  t.test('domains on the daemon', { skip: target.skip }, async () => {});
} else {
  const type = fs.existsSync('/dev/kvm') ? 'kvm' : 'qemu';
  const guest = (name: string) => `<domain type='${type}'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64'>hvm</type></os>
  <on_poweroff>destroy</on_poweroff>
  <devices><emulator>/usr/bin/qemu-system-x86_64</emulator><console type='pty'/></devices>
</domain>`;

  t.test(`a ${type} guest through its lifecycle`, async (t) => {
    const conn = await connect(target.uri);
    t.teardown(() => conn.close());
    const name = `vk-guest-${randomUUID().slice(0, 8)}`;
    const dom = await conn.defineDomain(guest(name));
    t.teardown(async () => {
      await dom.destroy().catch(() => undefined);
      await dom.undefine(1 /* VIR_DOMAIN_UNDEFINE_MANAGED_SAVE */).catch(() => undefined);
    });
    t.equal(await dom.isActive(), false);
    t.equal(await dom.osType(), 'hvm');
    t.equal(await dom.maxMemoryKiB(), 64 * 1024);
    await dom.start();
    t.equal((await dom.state()).stateName, 'running');
    const running = await conn.lookupDomainByName(name);
    t.ok(running.id !== null && running.id > 0, 'a running guest has an id');
    t.ok((await conn.lookupDomainById(running.id!)).equals(dom));
    t.match(await dom.getXML(), new RegExp(`<domain type='${type}' id='${running.id}'>`));
    await dom.suspend();
    t.equal((await dom.state()).stateName, 'paused');
    await dom.resume();
    t.equal((await dom.state()).stateName, 'running');
    t.ok((await dom.info()).cpuTimeNs > 0, 'the guest used CPU time');

    await dom.managedSave();
    t.equal(await dom.isActive(), false, 'managed save stopped it');
    t.equal(await dom.hasManagedSaveImage(), true);
    await dom.start();
    t.equal((await dom.state()).stateName, 'running', 'and start restored it');
    t.equal(await dom.hasManagedSaveImage(), false);
    // No guest agent channel is configured: a typed error, with or without asking the agent.
    t.equal(await codeOf(dom.hostname()), 'VIR_ERR_ARGUMENT_UNSUPPORTED');
    t.match(await codeOf(dom.hostname(DomainGetHostnameFlags.VIR_DOMAIN_GET_HOSTNAME_AGENT)), /^VIR_ERR_(AGENT_UNRESPONSIVE|ARGUMENT_UNSUPPORTED|OPERATION_UNSUPPORTED)$/);

    await dom.destroy();
    t.equal((await dom.state()).stateName, 'shutoff');
    await dom.undefine();
    t.equal(await codeOf(conn.lookupDomainByName(name)), 'VIR_ERR_NO_DOMAIN');
  });

  t.test('a transient guest disappears when destroyed', async (t) => {
    const conn = await connect(target.uri);
    t.teardown(() => conn.close());
    const name = `vk-tguest-${randomUUID().slice(0, 8)}`;
    const dom = await conn.createDomain(guest(name));
    t.equal(await dom.isPersistent(), false);
    t.equal((await dom.state()).stateName, 'running');
    await dom.destroy();
    t.equal(await codeOf(conn.lookupDomainByName(name)), 'VIR_ERR_NO_DOMAIN');
  });
}
