"""Reads template.yaml (with cfn-lint's loader, which understands !Ref and friends) and checks
its wiring against the workspace:

- every function's `BuildProperties.Binary` is a [[bin]] of a workspace crate;
- every environment variable a function is given is one Inlet reads, and every variable a
  function requires is given;
- every event type a function is wired to has a sample in events/, and every HttpApi route
  has an API Gateway sample whose path it routes (and every such sample is routed);
- the deployed edge: the access log holds no path (a lead channel is a credential), each
  function logs to a group of the stack's with a retention, each function is granted only
  what it runs (`form` and `email` only put kept items in the ledger's table, never read it;
  the Meta page token's secret for `deliver` alone; the queue's attributes for /health; the
  mail bucket for the console), the ledger has the indexes the code queries, and the
  dead-letter alarm counts new dead letters.

Run by `make test` (`target/venv/bin/python tests/template/check_wiring.py`).
"""
import json, pathlib, re, sys, tomllib

from cfnlint.decode import decode

ROOT = pathlib.Path(__file__).resolve().parents[2]
template, errors = decode(str(ROOT / "template.yaml"))
assert not errors, errors
resources = template["Resources"]
globals_env = template["Globals"]["Function"]["Environment"]["Variables"]

# The variables Inlet's code reads, from the source itself.
read = set()
for path in (ROOT / "shared" / "src").rglob("*.rs"):
    read |= set(re.findall(r'"(INLET_[A-Z0-9_]+)"', path.read_text()))

# What each binary cannot start without (config.rs `require_*`, the email function's run()).
REQUIRED = {
    "webhook": {"INLET_QUEUE_URL", "INLET_DLQ_URL", "INLET_LEDGER_TABLE", "INLET_CHANNELS"},
    "form": {"INLET_QUEUE_URL", "INLET_DLQ_URL", "INLET_LEDGER_TABLE", "INLET_CHANNELS"},
    "deliver": {"INLET_QUEUE_URL", "INLET_DLQ_URL", "INLET_LEDGER_TABLE"},
    "email": {"INLET_QUEUE_URL", "INLET_DLQ_URL", "INLET_LEDGER_TABLE"},
    "reconcile": {"INLET_QUEUE_URL", "INLET_LEDGER_TABLE"},
}
SAMPLES = {
    "SQS": ["sqs-deliver.json"],
    "S3": ["s3-email.json"],
    "HttpApi": [],
    "ScheduleV2": ["scheduler-meta-reconcile.json"],
}

bins = {}
for manifest in ROOT.glob("**/Cargo.toml"):
    if "target" in manifest.parts or "node_modules" in manifest.parts:
        continue
    data = tomllib.loads(manifest.read_text())
    for b in data.get("bin", []):
        bins[b["name"]] = manifest.parent

apigw = {}
for sample in (ROOT / "events").glob("apigw-*.json"):
    apigw[sample.name] = json.loads(sample.read_text())

def route_regex(path):
    # {name+} is API Gateway's greedy parameter: one or more whole segments.
    path = re.sub(r"\{[^/}]+\+\}", ".+", path)
    return re.compile("^" + re.sub(r"\{[^/}]+\}", "[^/]+", path) + "$")

problems = []
routed_samples = set()
functions = {k: v for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"}
assert functions, "no functions"
for name, fn in functions.items():
    binary = fn.get("Metadata", {}).get("BuildProperties", {}).get("Binary")
    if fn.get("Metadata", {}).get("BuildMethod") != "rust-cargolambda":
        problems.append(f"{name}: BuildMethod is not rust-cargolambda")
    if binary not in bins:
        problems.append(f"{name}: binary {binary!r} is no [[bin]] in the workspace")
    env = dict(globals_env)
    env.update(fn["Properties"].get("Environment", {}).get("Variables", {}))
    for var in env:
        if var not in read:
            problems.append(f"{name}: {var} is set but Inlet never reads it")
    for var in REQUIRED.get(binary, set()) - set(env):
        problems.append(f"{name}: {var} is required by {binary} and not set")
    for ev_name, ev in fn["Properties"].get("Events", {}).items():
        kind = ev["Type"]
        if kind not in SAMPLES:
            problems.append(f"{name}.{ev_name}: no sample event kind for {kind}")
            continue
        for s in SAMPLES[kind]:
            if not (ROOT / "events" / s).exists():
                problems.append(f"{name}.{ev_name}: events/{s} is missing")
        if kind == "HttpApi":
            path = ev["Properties"]["Path"]
            method = ev["Properties"]["Method"]
            hits = [
                s for s, e in apigw.items()
                if route_regex(path).match(e["rawPath"])
                and method in ("ANY", e["requestContext"]["http"]["method"])
            ]
            if not hits:
                problems.append(f"{name}.{ev_name}: no events/apigw-*.json sample for {method} {path}")
            routed_samples.update(hits)
for s in sorted(set(apigw) - routed_samples):
    problems.append(f"events/{s}: no HttpApi route in template.yaml takes its path")

# The deployed edge.
api = resources["Api"]["Properties"]
log_format = api["AccessLogSettings"]["Format"]
if "$context.path" in log_format or "$context.resourcePath" in log_format:
    problems.append("Api: the access log holds request paths, and with them lead channels")
def ref(value):
    return value.get("Ref") if isinstance(value, dict) else value
def policies(fn):
    return json.dumps(fn["Properties"].get("Policies", []), default=str)
for name, fn in functions.items():
    group = ref(fn["Properties"].get("LoggingConfig", {}).get("LogGroup"))
    if group not in resources or "RetentionInDays" not in resources[group]["Properties"]:
        problems.append(f"{name}: logs to no group of the stack's with a retention")
    binary = fn["Metadata"]["BuildProperties"]["Binary"]
    granted = policies(fn)
    # Form and email put kept items in the ledger's table: that put alone, on kept#… keys.
    if binary in ("form", "email"):
        if re.search(r"DynamoDB(Crud|Read|Write)Policy", granted):
            problems.append(f"{name}: the {binary} function has more of the ledger than putting kept items")
        puts = [
            st for p in fn["Properties"].get("Policies", []) if isinstance(p, dict)
            for st in p.get("Statement", []) if "dynamodb:PutItem" in json.dumps(st.get("Action"))
        ]
        if not puts:
            problems.append(f"{name}: the {binary} function cannot keep spam or mail for review")
        for st in puts:
            actions = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
            keys = st.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
            if actions != ["dynamodb:PutItem"] or keys != ["kept#*"]:
                problems.append(f"{name}: the {binary} function may write ledger items other than kept#…")
    if binary != "webhook" and "ConsoleSecret" in granted:
        problems.append(f"{name}: only the webhook function may read the console's token")
    if binary == "webhook" and "ConsoleSecret" not in granted:
        problems.append(f"{name}: the console's token cannot be read")
    if binary not in ("deliver", "reconcile") and "MetaSecret" in granted:
        problems.append(f"{name}: a public function can read the Meta page token")
    if binary == "reconcile":
        # Items by key only: no scan, no delete, no index query of the ledger.
        if re.search(r"DynamoDB(Crud|Read|Write)Policy|dynamodb:\*|Scan|DeleteItem", granted):
            problems.append(f"{name}: the reconcile function may do more than get and put items")
        if "Events" in fn["Properties"] and "HttpApi" in json.dumps(fn["Properties"]["Events"]):
            problems.append(f"{name}: the reconcile function answers the internet")
        schedule = json.dumps(fn["Properties"].get("Events", {}), default=str)
        sample = json.loads((ROOT / "events" / "scheduler-meta-reconcile.json").read_text())
        if "MaximumRetryAttempts" not in schedule or json.dumps(sample["task"]) not in schedule.replace('\\"', '"'):
            problems.append(f"{name}: the schedule must send events/scheduler-meta-reconcile.json's task and not retry")
    if binary == "webhook" and "sqs:GetQueueAttributes" not in granted:
        problems.append(f"{name}: /health cannot ask the queue (sqs:GetQueueAttributes)")
    if binary == "deliver":
        sends = [p for p in fn["Properties"].get("Policies", []) if isinstance(p, dict) and "SQSSendMessagePolicy" in p]
        if "LeadQueue" not in json.dumps(sends, default=str):
            problems.append(f"{name}: cannot put a lead that waited half the receive limit back on the queue (SQSSendMessagePolicy on LeadQueue)")
        if "SQSPollerPolicy" not in granted:
            problems.append(f"{name}: cannot read the queue's redrive limit (sqs:GetQueueAttributes)")
dead = json.dumps(resources["DeadLettersAlarm"]["Properties"], default=str)
if "ApproximateNumberOfMessagesVisible" in dead or "dead_lettered" not in dead:
    problems.append("DeadLettersAlarm: must count new dead letters (Inlet Leads, Outcome dead_lettered)")
if "MetaReconcileSucceeded" not in json.dumps(resources.get("MetaReconcileFailingAlarm", {}), default=str):
    problems.append("no alarm on an hour of failed Meta reconciliation runs (MetaReconcileSucceeded)")
if "ApiErrorsAlarm" not in resources:
    problems.append("no alarm on the API's 5xx answers")

# The dashboard's body is JSON once its ${...} are filled, with the panels the README names.
board = resources.get("Dashboard", {}).get("Properties", {}).get("DashboardBody")
if not board:
    problems.append("no CloudWatch dashboard")
else:
    text = board["Fn::Sub"][0] if isinstance(board, dict) else board
    try:
        body = json.loads(re.sub(r"\$\{[^}]+\}", "x", text))
        titles = [w["properties"]["title"] for w in body["widgets"]]
        for want in ("Leads by outcome", "Waiting", "Dead letters", "Rechat latency", "Speed to lead", "Kept for review", "errors"):
            if not any(want in t for t in titles):
                problems.append(f"Dashboard: no panel for {want!r} ({titles})")
        outcomes = json.dumps(body["widgets"][0]["properties"]["metrics"])
        for outcome in ("delivered", "retry", "dead_lettered", "spam", "not_a_lead"):
            if outcome not in outcomes:
                problems.append(f"Dashboard: leads panel lacks {outcome}")
    except (ValueError, KeyError, IndexError) as e:
        problems.append(f"Dashboard: its body is not the expected JSON: {e}")
indexes = [i["IndexName"] for i in resources["Ledger"]["Properties"]["GlobalSecondaryIndexes"]]
for want in ("lead_key-index", "listing-index"):
    if want not in indexes:
        problems.append(f"Ledger: no {want} (the code queries it: ledger/dynamodb.rs)")
if globals_env.get("INLET_KEEP_DAYS") != {"Ref": "KeepDays"}:
    problems.append("INLET_KEEP_DAYS is not the KeepDays parameter")
granted_webhook = policies(resources["WebhookFunction"])
if "S3ReadPolicy" not in granted_webhook:
    problems.append("WebhookFunction: the console cannot release mail kept only in the mail bucket")
if "SQSPollerPolicy" not in granted_webhook:
    problems.append("WebhookFunction: the console cannot read the dead letters (SQSPollerPolicy)")

if problems:
    print("\n".join(problems))
    sys.exit(1)
print(f"template wiring: {len(functions)} functions, {len(apigw)} API samples routed, variables checked")
