/**
 * Provisioning: the scenario of DESIGN.md as idempotent calls. Check the storage, store its
 * credentials in a libvirt secret, define and start the pool, define guests on its volumes,
 * and tear it all down again. Each call rolls back what it did when a step fails and says
 * which step in a {@link ProvisionError}.
 */
export { ProvisionError } from './errors';
export type { ProvisionErrorInfo, ProvisionReason, ProvisionStep } from './errors';
export {
  DEFAULT_ISCSI_TARGET_PATH, findIscsiadm, iscsiadmLogoutArgs, iscsiPoolDefinition, isLocalUri, isStaleSessionError, ISCSIADM_PATHS,
  logoutStaleSession, provisionIscsiPool,
} from './iscsi';
export type { IscsiPoolOptions, IscsiPoolVolume, ProvisionedIscsiPool } from './iscsi';
export { CEPH_MON_PORT, cephKeyBytes, provisionRbdPool, rbdPoolDefinition } from './rbd';
export type { ProvisionedRbdPool, RbdPoolOptions } from './rbd';
export { multipathPoolDefinition, provisionMultipathPool } from './mpath';
export type { MultipathPoolOptions, ProvisionedMultipathPool } from './mpath';
export { defineGuest, GUEST_METADATA_NS, guestDefinition, guestsUsingPool, provisionGuest, teardownGuest, teardownPool } from './guest';
export type { DefineGuestOptions, GuestDiskOption, ProvisionedGuest, TeardownPoolOptions } from './guest';
export type { PoolVolume } from './steps';
