package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// budget is one footprint limit from the product guide, checked against a
// row of the table: leafgate's own figure (in the row's unit), or with
// ratio set, leafgate's figure over nats-server's.
type budget struct {
	row    string // the row's workload, up to any " (...)" suffix
	metric string // for MQTT rows, the row's metric, up to any " (...)" suffix
	label  string // printed instead of row when set
	ratio  bool
	max    float64
}

var budgets = []budget{
	{row: "stripped linux/arm64 binary", ratio: true, max: 0.6},
	{row: "idle RSS, anonymous memory only", max: 2},
	{row: "idle RSS", ratio: true, max: 0.7},
	{row: "memory per idle connection", max: 16},
	{row: "mqtt-idle-10k", metric: "memory per idle connection", label: "memory per idle MQTT connection", max: 16},
	{row: wsPerConnName, max: 32},
	{row: "mqtt-ws-idle-10k", metric: "memory per idle connection", label: "memory per idle MQTT WebSocket connection", max: 32},
}

// budgetResult is one checked budget. Status is PASS, OVER, or ERROR when
// the row is missing or failed; SKIP when leafgate has no MQTT listener
// (the row says so), which is not counted as a budget not met.
type budgetResult struct {
	budget
	Value  float64
	Unit   string
	Status string
	Err    string
}

func (b budget) matches(r Row) bool {
	prefix := func(s, p string) bool { return s == p || strings.HasPrefix(s, p+" (") }
	if b.metric == "" {
		return r.Metric == "" && prefix(r.Workload, b.row)
	}
	return r.Workload == b.row && prefix(r.Metric, b.metric)
}

func (b budget) name() string {
	if b.label != "" {
		return b.label
	}
	return b.row
}

// checkBudgets checks each budget against its row in rows (ratios already
// computed).
func checkBudgets(rows []Row) []budgetResult {
	var out []budgetResult
	for _, b := range budgets {
		res := budgetResult{budget: b, Status: "ERROR", Err: "row not measured"}
		for _, r := range rows {
			if !b.matches(r) {
				continue
			}
			res.Value, res.Unit, res.Err = r.Leafgate, r.Unit, r.Err
			if b.ratio {
				res.Value, res.Unit = r.Ratio, "x nats-server"
			}
			switch {
			case slices.Contains(r.Skipped, "leafgate") && strings.Contains(r.Note, leafgateNoMQTT):
				res.Status, res.Err = "SKIP", leafgateNoMQTT
			case r.Err != "" || res.Value <= 0:
				res.Status = "ERROR"
				if res.Err == "" {
					res.Err = "no figure"
				}
			case res.Value > b.max:
				res.Status = "OVER"
			default:
				res.Status = "PASS"
			}
			break
		}
		out = append(out, res)
	}
	return out
}

// printBudgets prints one line per budget and, when any is not met, a
// banner that is hard to miss. The bench still exits 0: it is a report.
func printBudgets(out io.Writer, results []budgetResult) {
	fmt.Fprintln(out)
	fmt.Fprintln(out, "Footprint budgets (product guide):")
	failed := 0
	for _, r := range results {
		value := fmtBudget(r.Value, r.Unit)
		if r.Status == "SKIP" {
			value = "-"
		}
		fmt.Fprintf(out, "  %-5s %-42s %s (budget <= %s)", r.Status, r.name(), value, fmtBudget(r.max, r.Unit))
		if r.Err != "" {
			fmt.Fprintf(out, ": %s", r.Err)
		}
		fmt.Fprintln(out)
		if r.Status != "PASS" && r.Status != "SKIP" {
			failed++
		}
	}
	if failed > 0 {
		bar := strings.Repeat("!", 72)
		fmt.Fprintf(out, "\n%s\n!!! %d of %d footprint budgets NOT MET (OVER or ERROR above)\n%s\n", bar, failed, len(results), bar)
	}
}

func fmtBudget(v float64, unit string) string {
	if unit == "x nats-server" {
		return fmt.Sprintf("%.2fx nats-server", v)
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}
