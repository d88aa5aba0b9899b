package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// budget is one limit checked against a row of the table: leafgate's own
// figure (in the row's unit), or with ratio set, leafgate's figure over
// nats-server's. It is an upper bound (max), or with atLeast a lower one.
type budget struct {
	source  string // where the limit comes from: the heading it is printed under
	row     string // the row's workload, up to any " (...)" suffix
	metric  string // for MQTT rows, the row's metric, up to any " (...)" suffix
	payload int    // the row's payload, when rows of that workload differ by it
	label   string // printed instead of row when set
	unit    string // the row's unit; "x nats-server" for a ratio
	ratio   bool
	atLeast bool
	max     float64 // the limit, also when atLeast
	// selected reports whether the run measures the row (-workloads,
	// -footprint); nil when every run does. A budget whose row was not
	// selected is NOT RUN, not an error.
	selected func() bool
}

const (
	footprintBudgets = "Footprint budgets (product guide)"
	leafTargets      = "Leafnode targets (issue 11)"
	catchupTargets   = "Catch-up targets (issue 12)"
)

var budgets = []budget{
	{source: footprintBudgets, row: "stripped linux/arm64 binary", ratio: true, max: 0.6},
	{source: footprintBudgets, row: "idle RSS, anonymous memory only", unit: "MiB", max: 2},
	{source: footprintBudgets, row: "idle RSS", ratio: true, max: 0.7},
	{source: footprintBudgets, row: "memory per idle connection", unit: "KiB", max: 16},
	{source: footprintBudgets, row: "mqtt-idle-10k", metric: "memory per idle connection", label: "memory per idle MQTT connection", unit: "KiB", max: 16,
		selected: mqttSelected("mqtt-idle-10k")},
	{source: footprintBudgets, row: wsPerConnName, unit: "KiB", max: 32, selected: wsMemorySelected},
	{source: footprintBudgets, row: "mqtt-ws-idle-10k", metric: "memory per idle connection", label: "memory per idle MQTT WebSocket connection", unit: "KiB", max: 32,
		selected: mqttSelected("mqtt-ws-idle-10k")},

	// Link throughput at the payloads, each way: at least the
	// nats-server leaf's.
	{source: leafTargets, row: upstream.name, payload: 16, ratio: true, atLeast: true, max: 1, selected: leafSelected("leaf-upstream")},
	{source: leafTargets, row: upstream.name, payload: 128, ratio: true, atLeast: true, max: 1, selected: leafSelected("leaf-upstream")},
	{source: leafTargets, row: downstream.name, payload: 16, ratio: true, atLeast: true, max: 1, selected: leafSelected("leaf-downstream")},
	{source: leafTargets, row: downstream.name, payload: 128, ratio: true, atLeast: true, max: 1, selected: leafSelected("leaf-downstream")},
	// Purely local traffic costs the leaf no more than 10 % more CPU per
	// message with the link up than with it down.
	{source: leafTargets, row: localCPUUpDown, unit: "x", max: 1.1, selected: leafSelected("leaf-local")},
	// Compressed JSON telemetry: at most half its uncompressed wire bytes.
	{source: leafTargets, row: wireRatioName(wireModes[1]), unit: "x", max: 0.5, selected: leafSelected("leaf-wire")},
	{source: leafTargets, row: wireRatioName(wireModes[2]), unit: "x", max: 0.5, selected: leafSelected("leaf-wire")},
	{source: leafTargets, row: wireRatioName(wireModes[3]), unit: "x", max: 0.5, selected: leafSelected("leaf-wire")},
}

func init() { budgets = append(budgets, catchupBudgets()...) }

// catchupBudgets: after an outage, the first backlog message at the hub
// at most 2 s after the link (or the hub) is back, on every path
// leafgate drives or serves; and a drain at least the nats-server leaf's
// on the paths meant to match it (fast batches into a stream that takes
// them, and the hub sourcing leafgate). The uplink's single publishes
// are printed, not budgeted: the hub's deduplicated publishes bound them
// (docs/benchmarks.md).
func catchupBudgets() []budget {
	var out []budget
	sel := leafSelected("leaf-catchup")
	for _, comp := range []string{"s2_fast", "off"} {
		for _, p := range catchupPaths[:3] {
			tag := catchupTag(p, comp)
			out = append(out, budget{source: catchupTargets, row: tag + ": first message after the link returns", label: catchupLabel(p, comp, "first message"),
				payload: 128, unit: "s", max: 2, selected: sel})
			if p.fastBatch || p.name == "sourced" {
				out = append(out, budget{source: catchupTargets, row: tag + ": drain", label: catchupLabel(p, comp, "drain"),
					payload: 128, ratio: true, atLeast: true, max: 1, selected: sel})
			}
		}
	}
	for _, p := range catchupPaths[:3] {
		out = append(out, budget{source: catchupTargets, row: catchupRestartTag(p), label: catchupLabel(p, "", "first message after a hub restart"),
			payload: 128, unit: "s", max: 2, selected: sel})
	}
	return out
}

func catchupLabel(p catchupPath, comp, what string) string {
	if comp != "" {
		return fmt.Sprintf("catch-up %s, %s: %s", p.name, comp, what)
	}
	return fmt.Sprintf("catch-up %s: %s", p.name, what)
}

// Budget statuses. Only PASS, SKIP and NOT RUN count as met.
const (
	statusPass   = "PASS"
	statusOver   = "OVER"  // above an upper bound
	statusUnder  = "UNDER" // below a lower bound
	statusError  = "ERROR" // the row is missing or failed
	statusSkip   = "SKIP"  // leafgate has no MQTT listener (the row says so)
	statusNotRun = "NOT RUN"
)

// errNotMeasured is the error of a budget whose row the run selected but
// did not produce.
const errNotMeasured = "row not measured"

// budgetResult is one checked budget.
type budgetResult struct {
	budget
	Value  float64 // in unitName()
	Status string
	Err    string
}

// unitName is the unit of b's limit and of the figure checked.
func (b budget) unitName() string {
	if b.ratio {
		return "x nats-server"
	}
	return b.unit
}

func (b budget) matches(r Row) bool {
	prefix := func(s, p string) bool { return s == p || strings.HasPrefix(s, p+" (") }
	if b.payload != 0 && r.Payload != b.payload {
		return false
	}
	if b.metric == "" {
		return r.Metric == "" && prefix(r.Workload, b.row)
	}
	return r.Workload == b.row && prefix(r.Metric, b.metric)
}

func (b budget) name() string {
	name := b.row
	if b.label != "" {
		name = b.label
	}
	if b.payload != 0 {
		name += fmt.Sprintf(", %dB", b.payload)
	}
	return name
}

// check is res's status for value v.
func (b budget) check(v float64) string {
	switch {
	case b.atLeast && v < b.max:
		return statusUnder
	case !b.atLeast && v > b.max:
		return statusOver
	}
	return statusPass
}

// checkBudgets checks each budget against its row in rows (ratios already
// computed). A budget whose row the run did not select is NOT RUN.
func checkBudgets(rows []Row) []budgetResult {
	var out []budgetResult
	for _, b := range budgets {
		res := budgetResult{budget: b, Status: statusError, Err: errNotMeasured}
		if b.selected != nil && !b.selected() {
			res.Status, res.Err = statusNotRun, ""
			out = append(out, res)
			continue
		}
		for _, r := range rows {
			if !b.matches(r) {
				continue
			}
			res.Value, res.Err = r.Leafgate, r.Err
			if b.ratio {
				res.Value = r.Ratio
			}
			switch {
			case slices.Contains(r.Skipped, "leafgate") && strings.Contains(r.Note, leafgateNoMQTT):
				res.Status, res.Err = statusSkip, leafgateNoMQTT
			case !b.ratio && r.Unit != b.unit:
				res.Status, res.Err = statusError, fmt.Sprintf("the row is in %q, the budget in %q", r.Unit, b.unit)
			case r.Err != "" || res.Value <= 0:
				res.Status = statusError
				if res.Err == "" {
					res.Err = "no figure"
				}
			default:
				res.Status = b.check(res.Value)
			}
			break
		}
		out = append(out, res)
	}
	return out
}

// printBudgets prints one line per budget, under its source's heading,
// and, when any measured one is not met, a banner that is hard to miss.
// The bench still exits 0: it is a report.
func printBudgets(out io.Writer, results []budgetResult) {
	failed, checked := 0, 0
	source := ""
	for _, r := range results {
		if r.source != source {
			source = r.source
			fmt.Fprintf(out, "\n%s:\n", source)
		}
		value := fmtBudget(r.Value, r.unitName())
		if r.Status == statusSkip || r.Status == statusNotRun || r.Status == statusError && r.Value <= 0 {
			value = "-"
		}
		limit := "<="
		if r.atLeast {
			limit = ">="
		}
		fmt.Fprintf(out, "  %-7s %-48s %s (budget %s %s)", r.Status, r.name(), value, limit, fmtBudget(r.max, r.unitName()))
		if r.Err != "" {
			fmt.Fprintf(out, ": %s", r.Err)
		}
		fmt.Fprintln(out)
		if r.Status != statusNotRun {
			checked++
		}
		if r.Status != statusPass && r.Status != statusSkip && r.Status != statusNotRun {
			failed++
		}
	}
	if failed > 0 {
		bar := strings.Repeat("!", 72)
		fmt.Fprintf(out, "\n%s\n!!! %d of %d budgets checked NOT MET (OVER, UNDER or ERROR above)\n%s\n", bar, failed, checked, bar)
	}
}

func fmtBudget(v float64, unit string) string {
	switch unit {
	case "x nats-server":
		return fmt.Sprintf("%.2fx nats-server", v)
	case "x":
		return fmt.Sprintf("%.2fx", v)
	}
	// Two decimals: at one, 2.04 MiB over a 2 MiB budget read "2.0 MiB".
	return fmt.Sprintf("%.2f %s", v, unit)
}
