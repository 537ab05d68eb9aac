// Reads a CAR file with an independent implementation (@ipld/car + multiformats from npm) and
// prints its version, roots and blocks as JSON; exits 2 when a block's CID is not the CIDv1
// raw / sha2-256 of its bytes. Run from a directory whose node_modules has both packages
// (scripts/test installs them into target/test-services/ipld).
import { CarReader } from '@ipld/car'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import fs from 'node:fs'
const bytes = fs.readFileSync(process.argv[2])
const reader = await CarReader.fromBytes(bytes)
const roots = (await reader.getRoots()).map(String)
const blocks = []
for await (const { cid, bytes: b } of reader.blocks()) {
  const digest = await sha256.digest(b)
  const computed = CID.create(1, raw.code, digest)
  if (!computed.equals(cid)) { console.error('mismatch', String(cid), String(computed)); process.exit(2) }
  blocks.push({ cid: String(cid), size: b.length, text: b.length < 4096 ? new TextDecoder().decode(b) : null })
}
console.log(JSON.stringify({ version: reader.version, roots, blocks }))
