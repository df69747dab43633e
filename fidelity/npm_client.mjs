// `make fidelity`, part 2: the npm client @woocommerce/woocommerce-rest-api against the sandbox.
// Run by fidelity/run.py with WOO_URL, WOO_CK, WOO_CS (and NODE_EXTRA_CA_CERTS over https): the
// client signs with OAuth 1.0a over http and sends Basic auth over https, as it does for a shop.
// Prints one JSON line: {"ok": true|false, "checks": {...}, "error": "..."}.
import WooCommerceRestApiModule from "@woocommerce/woocommerce-rest-api";

const WooCommerceRestApi = WooCommerceRestApiModule.default ?? WooCommerceRestApiModule;
const api = new WooCommerceRestApi({
  url: process.env.WOO_URL,
  consumerKey: process.env.WOO_CK,
  consumerSecret: process.env.WOO_CS,
  version: "wc/v3",
  timeout: 30000,
});
const checks = {};

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

async function listing() {
  const first = await api.get("orders", { per_page: 20, page: 1 });
  const total = Number(first.headers["x-wp-total"]);
  const pages = Number(first.headers["x-wp-totalpages"]);
  expect(total > 20 && pages === Math.ceil(total / 20), `paging headers ${total} / ${pages}`);
  const seen = new Set(first.data.map((o) => o.id));
  for (let page = 2; page <= pages; page += 1) {
    const next = await api.get("orders", { per_page: 20, page });
    next.data.forEach((o) => seen.add(o.id));
  }
  expect(seen.size === total, `paged through ${seen.size} distinct orders of ${total}`);
  checks.orders_paged = { total, pages };
  return first.data[0];
}

async function oneOrder(id) {
  const { data } = await api.get(`orders/${id}`);
  expect(data.id === id && Array.isArray(data.line_items), "one order");
  checks.one_order = id;
}

async function customers() {
  const { data, headers } = await api.get("customers", { per_page: 100 });
  expect(data.length > 0 && Number(headers["x-wp-total"]) >= data.length, "customers listed");
  checks.customers = data.length;
  return data;
}

async function batchMeta(people) {
  const update = people.slice(0, 3).map((c, n) => ({
    id: c.id,
    meta_data: [{ key: "loyalty_points", value: String(100 + n) }],
  }));
  const { data } = await api.post("customers/batch", { update });
  expect(data.update.length === update.length, "batch answered every item");
  for (const [n, item] of data.update.entries()) {
    const meta = item.meta_data.find((m) => m.key === "loyalty_points");
    expect(meta && meta.value === String(100 + n), `meta written on customer ${item.id}`);
  }
  const again = await api.get(`customers/${update[0].id}`);
  expect(again.data.meta_data.some((m) => m.key === "loyalty_points" && m.value === "100"),
    "meta read back");
  checks.batch_meta = update.length;
}

async function coupon() {
  const code = `fidelity-${Date.now().toString(36)}`;
  const created = await api.post("coupons", {
    code, discount_type: "fixed_cart", amount: "10.00", usage_limit: 1,
    email_restrictions: ["someone@example.com"],
  });
  expect(created.status === 201 && created.data.code === code, "coupon created");
  const found = await api.get("coupons", { code });
  expect(found.data.length === 1 && found.data[0].id === created.data.id, "coupon found by code");
  checks.coupon = created.data.id;
}

try {
  const order = await listing();
  await oneOrder(order.id);
  await batchMeta(await customers());
  await coupon();
  console.log(JSON.stringify({ ok: true, checks }));
} catch (error) {
  const detail = error.response ? `${error.response.status} ${JSON.stringify(error.response.data)}` : "";
  console.log(JSON.stringify({ ok: false, checks, error: `${error.message} ${detail}`.trim() }));
  process.exit(1);
}
