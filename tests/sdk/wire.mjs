// Wire fidelity: every FAPI response seen in the suite is validated against its schema in
// Clerk's published OpenAPI spec (spec/clerk-fapi-2025-11-10.yml, MIT). A mismatch fails the
// run and names the request and the field.
import { readFileSync } from 'node:fs';
import assert from 'node:assert/strict';
import YAML from 'yaml';
import Ajv from 'ajv';

const spec = YAML.parse(readFileSync(new URL('./spec/clerk-fapi-2025-11-10.yml', import.meta.url), 'utf8'));

// OpenAPI 3.0's `nullable: true` becomes JSON Schema's "or null" (ajv's own `nullable` only
// widens a sibling `type`, not `allOf`/`$ref`, which the spec uses for nullable objects).
function toJsonSchema(node) {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (!node || typeof node !== 'object') return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) out[k] = toJsonSchema(v);
  if (out.nullable === true) {
    delete out.nullable;
    return { anyOf: [{ type: 'null' }, out] };
  }
  delete out.nullable;
  return out;
}

const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
ajv.addSchema(toJsonSchema(spec), 'fapi');

const escape = (segment) => encodeURIComponent(segment.replace(/~/g, '~0').replace(/\//g, '~1'));
const pointer = (...segments) => 'fapi#/' + segments.map(escape).join('/');

// Spec paths as regular expressions, literal ones first.
const routes = Object.keys(spec.paths)
  .map((template) => ({
    template,
    params: (template.match(/\{/g) ?? []).length,
    regex: new RegExp('^' + template.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+') + '$'),
  }))
  .sort((a, b) => a.params - b.params);

const compiled = new Map();
function validatorFor(template, method, status) {
  const key = `${method} ${template} ${status}`;
  if (compiled.has(key)) return compiled.get(key);
  const op = spec.paths[template]?.[method];
  let response = op?.responses?.[String(status)];
  let ref = null;
  if (response?.$ref) {
    const name = response.$ref.split('/').pop();
    response = spec.components.responses[name];
    ref = response?.content?.['application/json']?.schema ? pointer('components', 'responses', name, 'content', 'application/json', 'schema') : null;
  } else if (response?.content?.['application/json']?.schema) {
    ref = pointer('paths', template, method, 'responses', String(status), 'content', 'application/json', 'schema');
  }
  const validate = ref ? ajv.compile({ $ref: ref }) : null;
  const entry = { op, response, validate };
  compiled.set(key, entry);
  return entry;
}

/** Problems with one recorded response, as sentences naming the field. */
export function check({ method, url, status, body }) {
  const u = new URL(url);
  const effective = (u.searchParams.get('_method') ?? method).toLowerCase();
  const at = u.pathname.search(/\/(v1|\.well-known)\//);
  const path = (at >= 0 ? u.pathname.slice(at) : u.pathname).replace(/(.)\/$/, '$1');
  const route = routes.find((r) => r.regex.test(path) && spec.paths[r.template][effective]);
  const what = `${effective.toUpperCase()} ${path} → ${status}`;
  // `/v1/jwks` is the Backend API path @clerk/backend fetches (not part of the FAPI spec).
  if (path === '/v1/jwks') return [];
  // The Backend API calls framework helpers make (`currentUser()`, `getToken({template})`):
  // not part of the FAPI spec either.
  if (/^\/v1\/(users|sessions)\//.test(path)) return [];
  if (!route) return [`${what}: no such operation in the spec`];
  const { op, validate } = validatorFor(route.template, effective, status);
  // A documented redirect (the handshake's 307) has no body.
  if (status >= 300 && status < 400 && op.responses?.[String(status)] && !op.responses[String(status)].content) return [];
  if (body === undefined) return [`${what}: the body is not JSON`];
  if (!op.responses?.[String(status)]) {
    // Clerk documents only some error statuses per operation; every error body is ClerkErrors.
    if (status >= 400) return checkErrors(what, body);
    return [`${what}: status ${status} is not documented for this operation`];
  }
  if (!validate) return status >= 400 ? checkErrors(what, body) : [];
  if (validate(body)) return [];
  return readable(validate.errors).map((e) => {
    const field = e.instancePath || '(root)';
    const extra = e.params?.additionalProperty ? ` \`${e.params.additionalProperty}\`` : '';
    return `${what}: ${field} ${e.message}${extra}`;
  });
}

// Drops the branch bookkeeping of anyOf/oneOf ("must be null", "must match a schema in anyOf")
// so what is left names the field that is actually wrong.
function readable(errors) {
  const kept = errors.filter(
    (e) => !['anyOf', 'oneOf'].includes(e.keyword) && !(e.keyword === 'type' && e.params?.type === 'null'),
  );
  return kept.length ? kept : errors;
}

const errorsValidator = ajv.compile({ $ref: pointer('components', 'schemas', 'ClerkErrors') });
function checkErrors(what, body) {
  if (errorsValidator(body)) return [];
  return errorsValidator.errors.map((e) => `${what}: ${e.instancePath || '(root)'} ${e.message}`);
}

/** Fails with every mismatch, each naming its request and field. */
export function assertWireFidelity(records) {
  const problems = [...new Set(records.flatMap(check))];
  assert.deepEqual(problems, [], `responses that do not match Clerk's spec:\n  ${problems.join('\n  ')}`);
}
