// The shared XML reader: typed results, and hostile documents refused without expansion.
import t from 'tap';
import { parseCapabilitiesXml, parseSysinfoXml } from 'virtkit';

t.test('capabilities of a KVM host', async (t) => {
  const caps = parseCapabilitiesXml(`<capabilities>
  <host><uuid>a8d9f4e2-0000-4000-8000-000000000001</uuid>
    <cpu><arch>x86_64</arch><model>Skylake-Client-IBRS</model><vendor>Intel</vendor>
      <topology sockets='1' dies='1' clusters='1' cores='4' threads='2'/>
      <feature name='ds'/><feature name='vmx'/><pages unit='KiB' size='4'/></cpu>
    <power_management><suspend_mem/><suspend_disk/></power_management>
    <iommu support='yes'/>
    <migration_features><live/><uri_transports><uri_transport>tcp</uri_transport><uri_transport>rdma</uri_transport></uri_transports></migration_features>
  </host>
  <guest><os_type>hvm</os_type>
    <arch name='x86_64'><wordsize>64</wordsize><emulator>/usr/bin/qemu-system-x86_64</emulator>
      <machine maxCpus='255'>pc-i440fx-7.2</machine><machine canonical='pc-q35-7.2' maxCpus='288'>q35</machine>
      <domain type='qemu'/><domain type='kvm'><machine maxCpus='288'>pc-q35-7.2</machine></domain>
    </arch>
    <features><acpi default='on' toggle='yes'/><apic default='on' toggle='no'/></features>
  </guest>
</capabilities>`);
  t.equal(caps.host.uuid, 'a8d9f4e2-0000-4000-8000-000000000001');
  t.same(caps.host.cpu.topology, { sockets: 1, dies: 1, clusters: 1, cores: 4, threads: 2 });
  t.equal(caps.host.cpu.model, 'Skylake-Client-IBRS');
  t.same(caps.host.cpu.features, ['ds', 'vmx']);
  t.same(caps.host.powerManagement, ['suspend_mem', 'suspend_disk']);
  t.equal(caps.host.iommu, true);
  t.same(caps.host.migrationTransports, ['tcp', 'rdma']);
  const g = caps.guests[0]!;
  t.same(g.machines, [{ name: 'pc-i440fx-7.2', maxCpus: 255 }, { name: 'q35', canonical: 'pc-q35-7.2', maxCpus: 288 }]);
  t.same(g.domains, [{ type: 'qemu', machines: [] }, { type: 'kvm', machines: [{ name: 'pc-q35-7.2', maxCpus: 288 }] }]);
  t.same(g.features, ['acpi', 'apic']);
  t.equal(g.emulator, '/usr/bin/qemu-system-x86_64');
});

t.test('sysinfo with every block', async (t) => {
  const si = parseSysinfoXml(`<sysinfo type='smbios'>
  <system><entry name='manufacturer'>ACME</entry><entry name='serial'>S1</entry></system>
  <baseBoard><entry name='product'>B1</entry></baseBoard><baseBoard><entry name='product'>B2</entry></baseBoard>
  <chassis><entry name='asset'>A</entry></chassis>
  <processor><entry name='version'>Xeon</entry></processor>
  <memory_device><entry name='size'>16 GB</entry></memory_device>
  <oemStrings><entry>one</entry><entry>two &amp; three</entry></oemStrings>
</sysinfo>`);
  t.same(si, {
    type: 'smbios',
    system: { manufacturer: 'ACME', serial: 'S1' },
    baseBoards: [{ product: 'B1' }, { product: 'B2' }],
    chassis: { asset: 'A' },
    processors: [{ version: 'Xeon' }],
    memoryDevices: [{ size: '16 GB' }],
    oemStrings: ['one', 'two & three'],
  });
});

t.test('hostile or broken documents are refused with SyntaxError / TypeError', async (t) => {
  const laughs = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><capabilities>&lol2;</capabilities>`;
  const external = `<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><sysinfo>&e;</sysinfo>`;
  t.throws(() => parseCapabilitiesXml(laughs), SyntaxError);
  t.throws(() => parseSysinfoXml(external), SyntaxError);
  t.throws(() => parseCapabilitiesXml('<sysinfo/>'), SyntaxError, 'wrong root element');
  t.throws(() => parseCapabilitiesXml(''), SyntaxError);
  t.throws(() => parseCapabilitiesXml(42 as never), TypeError);
});
