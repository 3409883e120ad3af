// SPDX-License-Identifier: LGPL-2.1-or-later
// An independent check of vidpipe's SigV4 signatures with the 'aws4' npm package (not
// vidpipe's signer): one JSON request per line on stdin ({method, target, headers} with
// lower-case header names), one JSON answer per line on stdout ({ok, why}). The secret of
// the one known access key comes from VP_S3_SECRET; VP_S3_KEY names the key.
'use strict';
const path = require('path');
const readline = require('readline');
const aws4 = require(path.join(process.env.VP_NPM_DIR, 'node_modules', 'aws4'));

const creds = { accessKeyId: process.env.VP_S3_KEY, secretAccessKey: process.env.VP_S3_SECRET };

function check(r) {
  const h = r.headers;
  const q = new URL(r.target, 'http://x').searchParams;
  if (q.has('X-Amz-Signature')) {
    // presigned: sign the same URL without its signature, as a client would have
    const cred = (q.get('X-Amz-Credential') || '').split('/');
    if (cred[0] !== creds.accessKeyId || cred[3] !== 's3' || cred[4] !== 'aws4_request')
      return 'unexpected credential ' + q.get('X-Amz-Credential');
    const got = q.get('X-Amz-Signature');
    const target = r.target.replace(/[?&]X-Amz-Signature=[0-9a-f]*/, '');
    const o = aws4.sign({ method: r.method, host: h.host, path: target, service: 's3',
                          region: cred[2], signQuery: true, headers: { host: h.host } }, creds);
    const want = new URL(o.path, 'http://x').searchParams.get('X-Amz-Signature');
    return want === got ? null : `presigned signature ${got}, aws4 computes ${want}`;
  }
  const auth = h.authorization || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m)
    return 'no SigV4 Authorization header: ' + JSON.stringify(auth);
  if (m[1] !== creds.accessKeyId)
    return 'unknown access key ' + m[1];
  const signed = m[4].split(';');
  for (const must of ['host', 'x-amz-date', 'x-amz-content-sha256'])
    if (!signed.includes(must))
      return `${must} is not signed`;
  const headers = {}, include = {};
  for (const name of signed) {
    if (!(name in h))
      return `signed header ${name} is missing`;
    headers[name] = h[name];
    include[name] = true;
  }
  if (h['x-amz-date'].slice(0, 8) !== m[2])
    return 'the scope date is not x-amz-date\'s';
  const o = aws4.sign({ method: r.method, host: h.host, path: r.target, service: 's3',
                        region: m[3], headers, extraHeadersToInclude: include }, creds);
  return o.headers.Authorization === auth ? null :
    `Authorization ${auth}\n  aws4 computes ${o.headers.Authorization}`;
}

readline.createInterface({ input: process.stdin }).on('line', line => {
  let why;
  try {
    why = check(JSON.parse(line));
  } catch (e) {
    why = 'verifier error: ' + e.message;
  }
  process.stdout.write(JSON.stringify({ ok: why === null, why }) + '\n');
});
