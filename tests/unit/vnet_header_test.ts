import assert from "node:assert/strict";
import {
  vnetCsumOffset,
  vnetCsumStart,
  vnetFlags,
  vnetGsoSize,
  vnetGsoType,
  vnetHdrLen,
  writeVnetHeader,
} from "../../drivers/vnet_header.ts";
import { GSO_NONE, GSO_TCPV4, TxOffload } from "../../link/driver.ts";
import { VIRTIO_NET_HDR_F_NEEDS_CSUM } from "../../ffi/virtio_net.ts";

/** A 12-byte header area at offset 4 of a buffer filled with 0xee (stale slot contents). */
function slot(): Uint8Array {
  return new Uint8Array(20).fill(0xee);
}

Deno.test("writeVnetHeader: no offload is all zeros, hdr_len carries linearBytes", () => {
  const b = slot();
  writeVnetHeader(b, 4, null, 10);
  assert.deepEqual([...b.subarray(4, 14)], new Array(10).fill(0));
  assert.equal(b[14], 0xee, "nothing written past the header");

  writeVnetHeader(b, 4, null, 10, 1514);
  assert.equal(vnetHdrLen(b, 4), 1514);
  assert.equal(vnetFlags(b, 4), 0);
  assert.equal(vnetGsoType(b, 4), GSO_NONE);
  assert.equal(vnetGsoSize(b, 4), 0);
  assert.equal(vnetCsumStart(b, 4), 0);
  assert.equal(vnetCsumOffset(b, 4), 0);

  // A frame longer than the 16-bit field: capped, never wrapped around to a small value.
  writeVnetHeader(b, 4, null, 12, 65_549);
  assert.equal(vnetHdrLen(b, 4), 0xffff);
  assert.equal(b[14] | (b[15] << 8), 0, "num_buffers");
});

Deno.test("writeVnetHeader: checksum offload keeps linearBytes, GSO uses its own hdrLen", () => {
  const off = new TxOffload();
  off.needsCsum = true;
  off.csumStart = 34;
  off.csumOffset = 6;
  const b = slot();
  writeVnetHeader(b, 4, off, 10, 8942);
  assert.equal(vnetFlags(b, 4), VIRTIO_NET_HDR_F_NEEDS_CSUM);
  assert.equal(vnetHdrLen(b, 4), 8942);
  assert.equal(vnetCsumStart(b, 4), 34);
  assert.equal(vnetCsumOffset(b, 4), 6);

  off.gsoType = GSO_TCPV4;
  off.gsoSize = 1448;
  off.hdrLen = 66;
  writeVnetHeader(b, 4, off, 10, 0);
  assert.equal(vnetGsoType(b, 4), GSO_TCPV4);
  assert.equal(vnetGsoSize(b, 4), 1448);
  assert.equal(vnetHdrLen(b, 4), 66);
});
