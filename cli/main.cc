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
  init->add_option("--rules-recorded-at", init_options.rules_recorded_at,
                   "for a store that migrated history goes into: record the rules at this UTC time "
                   "(YYYY-MM-DDTHH:MM:SSZ), asserted, instead of now");
  init->callback([&] {
    init_options.data_dir = data_dir;
    init_options.enact_rules = !no_rules;
    exit_code = di::cli::RunInit(init_options);
  });

  di::cli::EnactRulesOptions enact_options;
  CLI::App* rules = app.add_subcommand("rules", "rule sets (docs/rules.md)");
  rules->require_subcommand(1);
  CLI::App* enact = rules->add_subcommand(
      "enact", "enact a rules document in an existing store: for every project, or for --project alone");
  add_data(enact);
  enact->add_option("--rules", enact_options.rules_file, "the rules document (default: the default rule set, MK 313)");
  enact->add_option("--rules-parameter", enact_options.rule_parameters,
                    "override a dated parameter of the rules, NAME=YYYY-MM-DD (repeatable)");
  enact->add_option("--project", enact_options.project_ids,
                    "the rules govern this project alone, instead of every project without its own (repeatable)");
  enact->callback([&] {
    enact_options.data_dir = data_dir;
    exit_code = di::cli::RunEnactRules(enact_options);
  });

  di::cli::ImportOptions import_options;
  CLI::App* import = app.add_subcommand("import", "append events from a JSON Lines file (one event per line)");
  add_data(import);
  import->add_option("file", import_options.input, "JSON Lines file, or - for standard input")->required();
  import->add_option("--batch", import_options.batch_events, "events per atomic batch")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000));
  std::string import_server, import_token;
  import->add_option("--server", import_server,
                     "append through a running server's binary endpoint, HOST:PORT (docs/protocol.md), not --data");
  import->add_option("--token", import_token, "with --server: bearer token (default: $DI_LEDGER_TOKEN)");
  import->add_flag("--keep-recorded-at", import_options.keep_recorded_at,
                   "migration: keep each line's recorded_at (required on every line, never decreasing, not before "
                   "the store's last event, not in the future); recorded as asserted. With --server: a migration "
                   "token");
  import->callback([&] {
    import_options.data_dir = data_dir;
    if (!import_server.empty()) {
      exit_code = di::cli::RunRemoteImport(import_options, import_server, import_token);
      return;
    }
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
  entitlements->add_option("--format", entitlements_options.format, "table, json or csv")
      ->capture_default_str()
      ->check(CLI::IsMember({"table", "json", "csv"}));
  entitlements->add_flag("--explain", entitlements_options.explain, "list the deliveries and events behind the figures");
  entitlements->add_flag("--naive", entitlements_options.naive,
                         "fold a model and decide the family's deliveries instead of reading the caps' usage from the "
                         "journal store (the reference the journal is tested against; for support)");
  entitlements->callback([&] {
    entitlements_options.data_dir = data_dir;
    exit_code = di::cli::RunEntitlements(entitlements_options);
  });

  di::cli::ReportOptions report_options;
  CLI::App* report = app.add_subcommand(
      "report",
      "funding, reconciliation, indicators, partners or activities report, as of a valid date, as known at a time; or "
      "the changes of the funding figures between two known-at moments, with the events that made them");
  add_data(report);
  report->add_option("kind", report_options.kind,
                     "funding | reconciliation | indicators | changes | partners | activities")
      ->required()
      ->check(CLI::IsMember({"funding", "reconciliation", "indicators", "changes", "partners", "activities"}));
  report->add_option("--year", report_options.year, "activities: only those that began in this year")
      ->check(CLI::Range(1900, 2199));
  report->add_option("--claim", report_options.claim_id, "reconciliation: one claim, with its lines and payments");
  report->add_flag("--explain", report_options.explain,
                   "funding: list the positions of the events behind each row (export --from P --limit 1 shows one)");
  report->add_flag("--naive", report_options.naive,
                   "funding, reconciliation, indicators, changes: fold a model of the history and decide every "
                   "delivery instead of reading the journal store (the reference the journal is tested against; for "
                   "support)");
  report->add_option("--project", report_options.project_id, "only this project");
  report->add_option("--municipality", report_options.municipality_id,
                     "only this municipality (funding: granting one or its territory; reconciliation: claimant; "
                     "indicators: residence or its territory)");
  report->add_option("--valid-at", report_options.valid_at, "valid date YYYY-MM-DD (default: the latest)");
  report->add_option("--known-at", report_options.known_at,
                     "as known at a global position or a UTC time (changes: required, the moment they are counted from)");
  report->add_option("--to", report_options.to,
                     "changes: counted up to this global position or UTC time (default: now)");
  report->add_option("--group-by", report_options.group_by,
                     "dimensions to keep, comma-separated: project,territory,municipality,service,provider,mode,month "
                     "(default: project,territory,municipality,service,month)");
  report->add_option("--format", report_options.format, "table, json or csv")
      ->capture_default_str()
      ->check(CLI::IsMember({"table", "json", "csv"}));
  report->add_option("--table", report_options.table,
                     "reconciliation with --format csv: claims, lines (default) or payments");
  report->callback([&] {
    report_options.data_dir = data_dir;
    exit_code = di::cli::RunReport(report_options);
  });

  uint64_t rebuild_interval = 50000;
  CLI::App* rebuild = app.add_subcommand(
      "rebuild",
      "recompute the projection checkpoints and the journal store from scratch; prints the state digest of each snapshot");
  add_data(rebuild);
  rebuild->add_option("--interval", rebuild_interval, "a snapshot every this many events")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  rebuild->callback([&] { exit_code = di::cli::RunRebuild(data_dir, rebuild_interval); });

  di::workload::SimulateOptions simulate_options;
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

  // serve, token (server/)
  di::cli::ServeOptions serve_options;
  CLI::App* serve = app.add_subcommand("serve", "serve the HTTP/JSON API (docs/api.md) until SIGTERM/SIGINT");
  add_data(serve);
  serve->add_option("--address", serve_options.address, "address to bind")->capture_default_str();
  serve->add_option("--port", serve_options.port, "port to bind (0: any free port)")->capture_default_str();
  serve->add_option("--tokens", serve_options.tokens_file, "tokens file (JSON array; see `di-ledger token`)");
  serve->add_flag("--demo", serve_options.demo,
                  "import the demo region into an empty store first; without --tokens, make demo tokens");
  serve->add_option("--threads", serve_options.threads, "server threads")->capture_default_str()->check(CLI::Range(1, 256));
  serve->add_option("--body-limit", serve_options.body_limit_bytes, "largest request body, bytes (413 beyond)")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1024}, uint64_t{1} << 32));
  serve->add_option("--read-timeout-ms", serve_options.read_timeout_ms, "a request must arrive whole within this")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{10}, int64_t{3600000}));
  serve->add_option("--write-timeout-ms", serve_options.write_timeout_ms, "a response must be taken within this")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{10}, int64_t{3600000}));
  serve->add_option("--stall-timeout-ms", serve_options.stall_timeout_ms,
                    "a subscriber taking no data for this long is dropped (it resumes)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{10}, int64_t{3600000}));
  serve->add_option("--heartbeat-ms", serve_options.heartbeat_ms, "blank line to idle subscribers this often")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{10}, int64_t{3600000}));
  serve->add_option("--backup-dir", serve_options.backup_dir,
                    "enable POST /v1/admin/backup: online backups into this BackupEngine directory");
  serve->add_option("--binary-port", serve_options.binary_port,
                    "also serve the Cap'n Proto binary endpoint on this port (docs/protocol.md); 0: any free "
                    "port; default -1: off")
      ->capture_default_str()
      ->check(CLI::Range(-1, 65535));
  serve->add_flag("--read-only", serve_options.read_only,
                  "serve reads only, refusing appends (403); needed to start on a store whose chain does not verify");
  serve->callback([&] {
    serve_options.data_dir = data_dir;
    exit_code = di::cli::RunServe(serve_options);
  });
  di::cli::TokenOptions token_options;
  CLI::App* token = app.add_subcommand("token", "make a bearer token: prints it once, and its tokens-file entry");
  token->add_option("--name", token_options.name, "the token's name (unique in the file)")->required();
  token->add_option("--role", token_options.role, "clerk, project, finance, auditor, reader or migration")
      ->required()
      ->check(CLI::IsMember({"clerk", "project", "finance", "auditor", "reader", "migration"}));
  token->add_option("--municipality", token_options.municipality, "clerks: the municipality id they serve");
  token->callback([&] { exit_code = di::cli::RunToken(token_options); });

  // audit, backup, restore
  di::cli::AuditOptions audit_options;
  CLI::App* audit = app.add_subcommand("audit", "signed Merkle checkpoints, proofs, offline verification (docs/audit.md)");
  audit->require_subcommand(1);
  CLI::App* keygen = audit->add_subcommand("keygen", "make an Ed25519 signing key: FILE (secret, 0600) and FILE.pub");
  keygen->add_option("--out", audit_options.key_file, "the secret key file to create (never overwritten)")->required();
  keygen->callback([&] { exit_code = di::cli::RunAuditKeygen(audit_options); });
  CLI::App* checkpoint = audit->add_subcommand("checkpoint", "append a signed checkpoint of every event so far");
  add_data(checkpoint);
  checkpoint->add_option("--key", audit_options.key_file, "the ledger's signing key file")->required();
  checkpoint->callback([&] {
    audit_options.data_dir = data_dir;
    exit_code = di::cli::RunAuditCheckpoint(audit_options);
  });
  CLI::App* rotate = audit->add_subcommand("rotate-key", "hand signing over to a new key (event signed by both)");
  add_data(rotate);
  rotate->add_option("--key", audit_options.key_file, "the ledger's current signing key file")->required();
  rotate->add_option("--new-key", audit_options.new_key_file, "the key that signs from now on")->required();
  rotate->callback([&] {
    audit_options.data_dir = data_dir;
    exit_code = di::cli::RunAuditRotateKey(audit_options);
  });
  CLI::App* checkpoints = audit->add_subcommand("checkpoints", "list the checkpoints and key rotations");
  add_data(checkpoints);
  checkpoints->callback([&] {
    audit_options.data_dir = data_dir;
    exit_code = di::cli::RunAuditList(audit_options);
  });
  CLI::App* prove = audit->add_subcommand(
      "prove", "write a proof: --event ID (inclusion) or --first-checkpoint P (consistency with --checkpoint)");
  add_data(prove);
  auto* prove_event = prove->add_option("--event", audit_options.event_id, "prove this event is in a checkpoint");
  auto* prove_first = prove->add_option("--first-checkpoint", audit_options.first_checkpoint_position,
                                        "prove the checkpoint at this position is a prefix of --checkpoint");
  prove_event->excludes(prove_first);
  prove->add_option("--checkpoint", audit_options.checkpoint_position,
                    "position of the checkpoint proven against (default: the latest)");
  prove->add_option("--output,-o", audit_options.output, "proof file, - for standard output")->capture_default_str();
  prove->callback([&] {
    audit_options.data_dir = data_dir;
    if (audit_options.event_id.empty() && audit_options.first_checkpoint_position == 0) {
      std::cerr << "audit prove: give --event ID or --first-checkpoint POSITION\n";
      exit_code = 2;
      return;
    }
    exit_code = di::cli::RunAuditProve(audit_options);
  });
  CLI::App* check_proof = audit->add_subcommand("check-proof", "check a proof offline with a public key");
  check_proof->add_option("proof", audit_options.input, "proof file, - for standard input")->required();
  check_proof->add_option("--pubkey", audit_options.public_key, "public key: 64 hex chars or a .pub file")->required();
  check_proof->callback([&] { exit_code = di::cli::RunAuditCheckProof(audit_options); });
  CLI::App* verify_export = audit->add_subcommand(
      "verify-export", "verify an export (from position 1) offline: chain, Merkle roots, signatures");
  verify_export->add_option("export", audit_options.input, "JSON Lines of `di-ledger export`, - for standard input")
      ->required();
  verify_export->add_option("--pubkey", audit_options.public_key, "public key: 64 hex chars or a .pub file")->required();
  verify_export->callback([&] { exit_code = di::cli::RunAuditVerifyExport(audit_options); });

  std::string backup_dir;
  bool list_backups = false;
  CLI::App* backup = app.add_subcommand("backup", "online backup of a store (RocksDB BackupEngine, incremental)");
  add_data(backup);
  backup->add_option("--to", backup_dir, "backup directory (created; later backups share its files)")->required();
  backup->add_flag("--list", list_backups, "list the backups in --to instead of taking one");
  backup->callback([&] { exit_code = di::cli::RunBackup(data_dir, backup_dir, list_backups); });
  uint32_t restore_id = 0;
  std::string restore_data;
  CLI::App* restore = app.add_subcommand("restore", "restore a backup into a new directory, then verify it");
  restore->add_option("--from", backup_dir, "backup directory")->required();
  restore->add_option("--data", restore_data, "the new store directory (must not hold a store)")->required();
  restore->add_option("--backup-id", restore_id, "which backup (default: the latest)");
  restore->callback([&] { exit_code = di::cli::RunRestore(backup_dir, restore_id, restore_data); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // CLI11 prints the message (or the help). Usage errors exit 2, as documented (docs/operations.md).
    return app.exit(error) == 0 ? 0 : 2;
  }
  return exit_code;
}
