// di-ledger: the command-line interface. Argument parsing only; every verb is a function in commands.cc.
// CLI11 (Debian libcli11-dev) gives --help on every verb, typed options and clear usage errors.
#include <CLI/CLI.hpp>

#include "commands.h"

int main(int argc, char** argv) {
  CLI::App app{"di-ledger: event-sourced service ledger for EU co-financed social services (ESF 9.2.2.1)"};
  app.require_subcommand(1);
  std::string data_dir = "./data";
  auto add_data = [&](CLI::App* command) {
    command->add_option("--data", data_dir, "store directory")->capture_default_str();
  };
  int exit_code = 0;

  di::cli::InitOptions init_options;
  bool no_rules = false;
  CLI::App* init = app.add_subcommand("init", "create an event store and enact the default rule set (MK 313)");
  add_data(init);
  init->add_flag("--no-rules", no_rules, "create an empty store, enact no rules");
  init->add_option("--rules", init_options.rules_file, "enact this rules document instead of the default one");
  init->add_option("--rules-parameter", init_options.rule_parameters,
                   "override a dated parameter of the rules, NAME=YYYY-MM-DD (repeatable)");
  init->callback([&] {
    init_options.data_dir = data_dir;
    init_options.enact_rules = !no_rules;
    exit_code = di::cli::RunInit(init_options);
  });

  di::cli::ImportOptions import_options;
  CLI::App* import = app.add_subcommand("import", "append events from a JSON Lines file (one event per line)");
  add_data(import);
  import->add_option("file", import_options.input, "JSON Lines file, or - for standard input")->required();
  import->add_option("--batch", import_options.batch_events, "events per atomic batch")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  import->callback([&] {
    import_options.data_dir = data_dir;
    exit_code = di::cli::RunImport(import_options);
  });

  uint64_t from_position = 1, max_events = 0;
  std::string output = "-";
  CLI::App* export_command = app.add_subcommand("export", "write the log as JSON Lines");
  add_data(export_command);
  export_command->add_option("--from", from_position, "first global position")->capture_default_str();
  export_command->add_option("--limit", max_events, "at most this many events (0: all)")->capture_default_str();
  export_command->add_option("--output,-o", output, "output file, - for standard output")->capture_default_str();
  export_command->callback([&] { exit_code = di::cli::RunExport(data_dir, from_position, max_events, output); });

  CLI::App* verify = app.add_subcommand("verify", "walk the hash chain; exit 1 naming the first bad position");
  add_data(verify);
  verify->callback([&] { exit_code = di::cli::RunVerify(data_dir); });

  bool json = false;
  CLI::App* stats = app.add_subcommand("stats", "summary of the store");
  add_data(stats);
  stats->add_flag("--json", json, "machine-readable output");
  stats->callback([&] { exit_code = di::cli::RunStats(data_dir, json); });

  di::cli::EntitlementsOptions entitlements_options;
  CLI::App* entitlements = app.add_subcommand(
      "entitlements", "granted, used and remaining per service for a person, as of a date, as known at a time");
  add_data(entitlements);
  entitlements->add_option("person", entitlements_options.person_id, "person id")->required();
  entitlements->add_option("--valid-at", entitlements_options.valid_at, "valid date YYYY-MM-DD (default: the latest)");
  entitlements->add_option("--known-at", entitlements_options.known_at,
                           "as known at a global position or a UTC time (default: now)");
  entitlements->add_option("--format", entitlements_options.format, "table or json")
      ->capture_default_str()
      ->check(CLI::IsMember({"table", "json"}));
  entitlements->add_flag("--explain", entitlements_options.explain, "list the deliveries and events behind the figures");
  entitlements->callback([&] {
    entitlements_options.data_dir = data_dir;
    exit_code = di::cli::RunEntitlements(entitlements_options);
  });

  di::cli::ReportOptions report_options;
  CLI::App* report = app.add_subcommand(
      "report", "funding, reconciliation or indicators report, as of a valid date, as known at a time");
  add_data(report);
  report->add_option("kind", report_options.kind, "funding | reconciliation | indicators")
      ->required()
      ->check(CLI::IsMember({"funding", "reconciliation", "indicators"}));
  report->add_option("--claim", report_options.claim_id, "reconciliation: one claim, with its lines and payments");
  report->add_flag("--explain", report_options.explain,
                   "funding: list the positions of the events behind each row (export --from P --limit 1 shows one)");
  report->add_option("--project", report_options.project_id, "only this project");
  report->add_option("--municipality", report_options.municipality_id,
                     "only this municipality (funding: granting one or its territory; reconciliation: claimant; "
                     "indicators: residence or its territory)");
  report->add_option("--valid-at", report_options.valid_at, "valid date YYYY-MM-DD (default: the latest)");
  report->add_option("--known-at", report_options.known_at, "as known at a global position or a UTC time");
  report->add_option("--group-by", report_options.group_by,
                     "dimensions to keep, comma-separated: project,territory,municipality,service,month (default: all)");
  report->add_option("--format", report_options.format, "table, json or csv")
      ->capture_default_str()
      ->check(CLI::IsMember({"table", "json", "csv"}));
  report->callback([&] {
    report_options.data_dir = data_dir;
    exit_code = di::cli::RunReport(report_options);
  });

  uint64_t rebuild_interval = 50000;
  CLI::App* rebuild = app.add_subcommand(
      "rebuild", "recompute the projection checkpoints from scratch; prints the state digest of each snapshot");
  add_data(rebuild);
  rebuild->add_option("--interval", rebuild_interval, "a snapshot every this many events")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  rebuild->callback([&] { exit_code = di::cli::RunRebuild(data_dir, rebuild_interval); });

  di::cli::SimulateOptions simulate_options;
  std::string simulate_output = "-";
  CLI::App* simulate = app.add_subcommand("simulate", "write a seeded, realistic JSON Lines history of a region");
  simulate->add_option("--data", data_dir, "accepted like on every verb; simulate reads no store")->capture_default_str();
  simulate->add_option("--seed", simulate_options.seed, "random seed (same seed, same bytes)")->capture_default_str();
  simulate->add_option("--persons", simulate_options.persons, "persons enrolled")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000000));
  simulate->add_option("--years", simulate_options.years, "years simulated from 2016")
      ->capture_default_str()
      ->check(CLI::Range(1, 8));
  simulate->add_option("--output,-o", simulate_output, "output file, - for standard output")->capture_default_str();
  simulate->callback([&] { exit_code = di::cli::RunSimulate(simulate_options, simulate_output); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // CLI11 prints the message (or the help). Usage errors exit 2, as documented (docs/operations.md).
    return app.exit(error) == 0 ? 0 : 2;
  }
  return exit_code;
}
