# Internal: the ledger's reference index, one record per entity, kept in the `entity` column family.
# It is derived from the log (the log is the truth) and written in the same atomic batch as the events
# that change it. The validator reads it to check references (does this grant exist? is it ended?).
# Same evolution rules as events.capnp.

@0xbcea24ee92da4ece;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("di::schema");

using Events = import "events.capnp";

enum EntityKind {
  project @0;
  municipality @1;
  provider @2;
  contract @3;
  person @4;
  assessment @5;
  plan @6;
  application @7;
  grant @8;
  delivery @9;
  claim @10;
  payment @11;
  expense @12;
  partner @13;                     # id "<project>/<partner>"
  activity @14;
}

struct EntityRecord {
  kind @0 :EntityKind;
  createdAt @1 :UInt64;            # global position of the creating event
  createdOn @2 :Int32;             # effective date of the creating event
  personId @3 :Text;               # assessment/plan/application/grant: the person
  grantId @4 :Text;                # delivery: its grant
  municipalityId @5 :Text;         # grant/claim: the municipality
  mergedInto @6 :Text;             # municipality: successor after a merge
  targetGroup @7 :Events.TargetGroup;
  birthDate @8 :Int32;
  validFrom @9 :Int32;
  validUntil @10 :Int32;           # grant: after amendments; project: period end
  endedOn @11 :Int32 = -2147483648;     # grant: effective date of grant_ended
  suspendedOn @12 :Int32 = -2147483648; # grant: while suspended
  voided @13 :Bool;                # delivery
  decided @14 :Bool;               # application
  decision @15 :Events.Decision;   # application
  services @16 :List(Events.Service);   # application: services applied for
  service @17 :Events.Service;     # grant, delivery
  costBasis @18 :Events.CostBasis; # grant
  lastDate @19 :Int32;             # delivery: last day (== createdOn for single-day deliveries)
  claimLines @20 :List(Events.ClaimLine);  # claim
  reviewed @21 :Bool;              # claim
  approvedTotalCents @22 :Int64;   # claim
  paidTotalCents @23 :Int64;       # claim
  periodStart @24 :Int32;          # project
  costCents @25 :Int64;            # delivery: cost after corrections
  claimId @26 :Text;               # delivery: the claim it is in (cleared when a review rejects the line)
  reviewedOn @27 :Int32;           # claim: effective date of the review
  projectId @28 :Text;             # municipality: its own project; grant: the project that pays; partner, activity
  budgetKnownFrom @29 :Int32;      # project: first day a budget is in force (0 in records older than the field:
                                   # every project had a budget then); kNoDate: not known yet
}
