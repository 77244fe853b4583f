# di-ledger event catalog: the envelope and one struct per event type.
#
# EVOLUTION RULES (this file is the storage format of an append-only ledger; events written today must be
# readable forever):
#   * never renumber, retype or remove a field, an enumerant or a union member;
#   * add new fields / enumerants / event types only with the next free ordinal;
#   * a new field must be `$optional` (old events do not have it), unless it has a meaningful default;
#   * JSON names are derived from the Cap'n Proto names (camelCase -> snake_case), so renaming a field
#     renames its JSON key: don't.
#
# Conventions understood by the generic JSON codec (ledger/src/json_codec.cc):
#   $date      Int32 holding days since 1970-01-01 (civil, proleptic Gregorian); JSON "YYYY-MM-DD".
#   $optional  the field may be absent in JSON. Absent = the schema default value (pointer fields: unset).
#              Optional dates use the sentinel default -2147483648 ("no date"). The default of an optional
#              scalar is never a valid value, so JSON may not spell it out (lossless round trip).
#   $entityId  Text holding an identifier: 1..64 chars of [A-Za-z0-9._:-] (same rule as event ids).
#   $jsonDocument Text holding the RFC 8785 (JCS) text of a JSON object whose numbers are integers within
#              ±(2^53-1) (docs/audit.md §1.3); in JSON it is the object itself.
#   Money is Int64 euro cents, always named ...Cents. Quantities are in the unit of the service
#   (minutes for hour-based services, days for day-based services, sessions for session-based ones).

@0xe7c909b869a79bb4;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("di::schema");

annotation date @0xc1ee1c4af1afba75 (field) :Void;
annotation optional @0xb098f3f31427a1c2 (field) :Void;
annotation entityId @0x81b42589fbd8c6d7 (field) :Void;
annotation jsonDocument @0xa5dc518a54eccb5c (field) :Void;

# ---------------------------------------------------------------------------------------------------------
# Reference vocabularies
# ---------------------------------------------------------------------------------------------------------

enum TargetGroup {
  adultMentalDisability @0;       # GRT: pilngadīgas personas ar garīga rakstura traucējumiem (group I/II)
  childFunctionalImpairment @1;   # FT: bērni ar funkcionāliem traucējumiem, living in a family, 0-17
  parentOfChild @2;               # parent, legal representative or foster parent of an FT child
  childInCare @3;                 # BSAC: bērni ārpusģimenes aprūpē institūcijā, 0-17
  fosterOrAdoptiveCandidate @4;   # potenciālie aizbildņi, adoptētāji, audžuģimenes (no entitlements)
}

# The unit of a service is fixed by the service (see ServiceUnit() in ledger/include/di/ledger/catalog.h).
enum Service {
  childCare @0;                   # minutes. Sociālās aprūpes pakalpojums bērna dzīvesvietā
  respite @1;                     # days.    Atelpas brīdis (child with a special-care opinion)
  childRehabilitation @2;         # sessions. Sociālā rehabilitācija bērnam
  childDayCentre @3;              # days.    Dienas aprūpes centrs (DAC) bērnam
  parentRehabilitation @4;        # sessions. Sociālā rehabilitācija vecākiem
  adultHomeCare @5;               # minutes. Aprūpe mājās
  adultDayCentre @6;              # days.    Dienas aprūpes centrs
  adultSpecialisedWorkshop @7;    # days.    Specializētās darbnīcas
  adultGroupHome @8;              # days.    Grupu dzīvoklis / grupu māja
  adultRespite @9;                # days.    Īslaicīgā sociālā aprūpe
  adultSpecialistConsultation @10;   # sessions. Speciālistu konsultācijas un individuālais atbalsts
  adultPsychologistConsultation @11; # sessions. Psihologa konsultācijas (unit cost after 2021-07-01)
  adultSupportGroup @12;          # sessions. Atbalsta grupas un grupu nodarbības
  socialMentor @13;               # minutes. Sociālais mentors
  familyAssistant @14;            # minutes. Ģimenes asistents
  parentSupportGroup @15;         # sessions. Atbalsta grupa vecākiem
  supportPersonForDecisions @16;  # minutes. Atbalsta persona lēmumu pieņemšanā (the IBM pilot, BA 23-51)
  familyLikeCare @17;             # days.    Ģimeniskai videi pietuvināts pakalpojums (children in out-of-family care)
}

enum Unit {
  minutes @0;
  days @1;
  sessions @2;
}

enum ProviderRegister {
  socialServiceProviders @0;      # Sociālo pakalpojumu sniedzēju reģistrs
  medicalPractitioners @1;        # Ārstniecības personu reģistrs
  medicalInstitutions @2;         # Ārstniecības iestāžu reģistrs
  psychologists @3;               # Psihologu reģistrs
}

enum ProviderKind {
  legalPerson @0;
  naturalPerson @1;
}

enum ExpenseCategory {
  camp @0;
  training @1;
  assessment @2;
  informationEvent @3;
  exchangeTrip @4;
  planning @5;                    # DI plan, reorganisation plans
  video @6;
  transitionPreparation @7;       # VSAC residents' preparation for community life
  other @8;
}

enum Indicator {
  personsAssessed @0;
  supportPlans @1;
  personsReceivingServices @2;
  personsPreparedForTransition @3;   # GRT residents of a state social care centre prepared for community life
  personsStartedIndependentLife @4;  # of them, those who moved to live in the community ("uzsāks patstāvīgu dzīvi")
}

# The kind of a project partner (sadarbības partneris; brief §7): a municipality, a state social care centre
# (VSAC, with branches), a children's social care centre (BSAC or another child-care institution).
enum PartnerKind {
  municipality @0;
  stateSocialCareCentre @1;       # valsts sociālās aprūpes centrs
  childrensSocialCareCentre @2;   # bērnu sociālās aprūpes centrs
}

# A project's own activities, counted as outputs, not paid per person (brief §6.5).
enum ActivityKind {
  camp @0;                        # nometne
  training @1;                    # apmācības
  school @2;                      # work with schools
  informationEvent @3;            # informatīvs pasākums
  exchangeTrip @4;                # pieredzes apmaiņas brauciens
  integratingEvent @5;            # integrējošs pasākums
  video @6;                       # video stories
  mentoring @7;                   # mentoring (RETHINK)
  other @8;
}

enum RepresentativeRelation {
  parent @0;
  legalRepresentative @1;
  fosterParent @2;
}

enum DisabilityGroup {
  groupOne @0;
  groupTwo @1;
  groupThree @2;
  childDisability @3;             # disability status of a child (no group below 18)
}

enum DisabilityCause {
  mentalDisorder @0;
  functionalImpairment @1;
  other @2;
}

enum ParentActivity {
  working @0;
  studying @1;
  employmentAgencyMeasure @2;     # NVA pasākumi
  dayCentre @3;                   # attends a day-care centre
  notActive @4;                   # none of the above
}

enum AssessmentMethod {
  supportIntensityScale @0;       # Atbalsta intensitātes skala (adults)
  childNeedsAssessment @1;
  other @2;
}

enum ApplicationChannel {
  written @0;
  electronic @1;                  # e-signed
  email @2;
  phone @3;                       # accepted orally during the 2020 emergency
}

enum Decision {
  granted @0;
  refused @1;
}

enum Period {
  week @0;
  month @1;                       # calendar month
  year @2;                        # calendar year
  grantPeriod @3;                 # the whole validity of the grant
}

enum CostBasis {
  actualCost @0;                  # faktiskās izmaksas
  unitCost @1;                    # vienas vienības izmaksu metodika
}

enum GrantEndReason {
  completed @0;
  personMoved @1;
  personDeceased @2;
  withdrawnByPerson @3;
  noLongerEligible @4;
  other @5;
}

enum DeliveryMode {
  inPerson @0;
  remote @1;
}

enum DeliveryPurpose {
  unspecified @0;
  care @1;                        # child care: care and supervision
  leisure @2;                     # child care: meaningful leisure (sub-cap)
}

# ---------------------------------------------------------------------------------------------------------
# Event payloads (one struct per event type). Effective date and actor live in the envelope.
# ---------------------------------------------------------------------------------------------------------

struct IndicatorTarget {
  indicator @0 :Indicator;
  targetGroup @1 :TargetGroup;
  count @2 :UInt32;
}

struct ProjectRegistered {          # stream project/<projectId>
  projectId @0 :Text $entityId;
  name @1 :Text;
  region @2 :Text;
  agreementNumber @3 :Text $optional;   # a pilot outside the ESF agreements has none (BA 23)
  periodStart @4 :Int32 $date;
  periodEnd @5 :Int32 $date;
  servicesPaidUntil @6 :Int32 $date;   # last date on which services are paid (2023-08-31)
  # The budget; all three absent when not known yet (a pilot): a budget_amended states it later, and no claim of
  # the project can be reviewed before a budget is in force on the claim's date.
  budgetTotalCents @7 :Int64 $optional;
  budgetEsfCents @8 :Int64 $optional;
  budgetStateCents @9 :Int64 $optional;
  targets @10 :List(IndicatorTarget) $optional;
}

struct BudgetAmended {              # stream project/<projectId>; in force from the effective date
  projectId @0 :Text $entityId;
  totalCents @1 :Int64;
  esfCents @2 :Int64;
  stateCents @3 :Int64;
  reason @4 :Text $optional;
  targets @5 :List(IndicatorTarget) $optional;  # replaces the targets when present
}

struct ProjectExpenseRecorded {     # stream project/<projectId>
  projectId @0 :Text $entityId;
  expenseId @1 :Text $entityId;
  category @2 :ExpenseCategory;
  amountCents @3 :Int64;
  description @4 :Text $optional;
}

struct MunicipalityRegistered {     # stream municipality/<municipalityId>
  municipalityId @0 :Text $entityId;
  name @1 :Text;
  projectId @2 :Text $entityId;
}

struct MunicipalitiesMerged {       # stream municipality/<successorId>; administrative-territorial reform
  successorId @0 :Text $entityId;
  successorName @1 :Text;
  predecessorIds @2 :List(Text);
  projectId @3 :Text $entityId;
}

struct RegisterEntry {
  register @0 :ProviderRegister;
  registrationNumber @1 :Text;
}

struct ProviderRegistered {         # stream provider/<providerId>
  providerId @0 :Text $entityId;
  name @1 :Text;
  kind @2 :ProviderKind;
  registers @3 :List(RegisterEntry) $optional;
}

struct ProviderContracted {         # stream provider/<providerId>
  contractId @0 :Text $entityId;
  providerId @1 :Text $entityId;
  municipalityId @2 :Text $entityId;
  services @3 :List(Service);
  periodStart @4 :Int32 $date;
  periodEnd @5 :Int32 $date;
}

struct PartnerJoined {              # stream project/<projectId>; a partner from the effective date
  projectId @0 :Text $entityId;
  partnerId @1 :Text $entityId;     # a registered municipality (kind municipality) or provider (the centres)
  kind @2 :PartnerKind;
  branches @3 :List(Text) $optional;  # a centre's branches (filiāles), by id
  note @4 :Text $optional;
}

struct PartnerLeft {                # stream project/<projectId>; no longer a partner from the effective date
  projectId @0 :Text $entityId;
  partnerId @1 :Text $entityId;
  reason @2 :Text $optional;
}

struct ProjectActivityHeld {        # stream project/<projectId>; recorded again with the same id: a correction
  projectId @0 :Text $entityId;
  activityId @1 :Text $entityId;
  kind @2 :ActivityKind;
  title @3 :Text;
  firstDate @4 :Int32 $date;
  lastDate @5 :Int32 $date;         # on or before the effective date: held, not planned
  participants @6 :UInt32;          # persons who took part (0: not counted, e.g. a video)
  venue @7 :Text $optional;
  note @8 :Text $optional;
}

struct ProviderClosed {             # stream provider/<providerId>; closed from the effective date
  providerId @0 :Text $entityId;
  reason @1 :Text;
  services @2 :List(Service) $optional;  # the services closed (a day centre of a provider); absent: every one
}

struct ProviderReopened {           # stream provider/<providerId>; open again from the effective date
  providerId @0 :Text $entityId;
}

struct RulesEnacted {               # stream rules/<ruleSetId>; in force from the effective date
  ruleSetId @0 :Text $entityId;
  title @1 :Text;
  sourceReference @2 :Text $optional;
  document @3 :Text $jsonDocument;  # the rules themselves (format: docs/rules.md)
  projectIds @4 :List(Text) $optional;  # the projects these rules govern; absent: every project without its own
}

struct PersonEnrolled {             # stream person/<personId>
  personId @0 :Text $entityId;      # pseudonymous: never a name or personal code
  projectId @1 :Text $entityId;
  targetGroup @2 :TargetGroup;
  birthDate @3 :Int32 $date;
  residenceMunicipalityId @4 :Text $entityId;
  representative @5 :Representation $optional;   # required for parentOfChild, absent otherwise
}

struct Representation {             # a parent / legal representative / foster parent linked to children
  relation @0 :RepresentativeRelation;
  childIds @1 :List(Text);          # enrolled persons of group childFunctionalImpairment or childInCare
}

struct ResidenceChanged {           # stream person/<personId>
  personId @0 :Text $entityId;
  municipalityId @1 :Text $entityId;
}

struct DisabilityRecorded {         # stream person/<personId>
  personId @0 :Text $entityId;
  group @1 :DisabilityGroup;
  cause @2 :DisabilityCause;
  validFrom @3 :Int32 $date;
  validUntil @4 :Int32 = -2147483648 $date $optional;   # absent: indefinite
}

struct SpecialCareOpinionRecorded { # stream person/<personId>; VDEĀK atzinums par īpašas kopšanas nepieciešamību
  personId @0 :Text $entityId;
  opinionNumber @1 :Text $optional;
  validFrom @2 :Int32 $date;
  validUntil @3 :Int32 = -2147483648 $date $optional;
}

struct ParentActivityRecorded {     # stream person/<personId>; decides 200/80 h vs 40 h of child care
  personId @0 :Text $entityId;
  activity @1 :ParentActivity;
  validFrom @2 :Int32 $date;
  validUntil @3 :Int32 = -2147483648 $date $optional;
}

struct TransitionPrepared {         # stream person/<personId>; prepared for community life by the effective date
  personId @0 :Text $entityId;       # an adult with a mental disability (GRT) living in a state social care centre
  centreId @1 :Text $entityId $optional;  # the centre (VSAC) or its branch, a registered provider
  note @2 :Text $optional;
}

struct IndependentLifeStarted {     # stream person/<personId>; moved out of the centre to live in the community
  personId @0 :Text $entityId;       # from the effective date
  note @1 :Text $optional;
}

struct NeedsAssessed {              # stream person/<personId>; individuālo vajadzību izvērtējums
  assessmentId @0 :Text $entityId;
  personId @1 :Text $entityId;
  method @2 :AssessmentMethod;
  assessor @3 :Text $optional;
}

struct SupportPlanApproved {        # stream person/<personId>; individuālais atbalsta plāns
  planId @0 :Text $entityId;
  personId @1 :Text $entityId;
  assessmentId @2 :Text $entityId;
  recommendedServices @3 :List(Service);
  validFrom @4 :Int32 $date;
  validUntil @5 :Int32 = -2147483648 $date $optional;
}

struct ApplicationSubmitted {       # stream person/<personId>; iesniegums
  applicationId @0 :Text $entityId;
  personId @1 :Text $entityId;
  municipalityId @2 :Text $entityId;   # social service of the declared residence
  services @3 :List(Service);
  channel @4 :ApplicationChannel;
  submittedById @5 :Text $entityId $optional;  # the representative, when not the person
}

struct ApplicationDecided {         # stream person/<personId>
  applicationId @0 :Text $entityId;
  decision @1 :Decision;
  reason @2 :Text $optional;        # required when refused
}

struct ServiceGranted {             # stream grant/<grantId>
  grantId @0 :Text $entityId;
  personId @1 :Text $entityId;
  municipalityId @2 :Text $entityId;
  service @3 :Service;
  quantity @4 :Int64;               # in the service's unit, per `period`
  period @5 :Period;
  validFrom @6 :Int32 $date;
  validUntil @7 :Int32 $date;
  costBasis @8 :CostBasis;
  unitCostCents @9 :Int64 $optional;   # required for unitCost
  applicationId @10 :Text $entityId $optional;
  planId @11 :Text $entityId $optional;
  providerId @12 :Text $entityId $optional;
  projectId @13 :Text $entityId $optional;  # the project that pays; absent: the municipality's own project
}

struct GrantAmended {               # stream grant/<grantId>; every present field replaces the granted value
  grantId @0 :Text $entityId;
  quantity @1 :Int64 $optional;     # per the grant's period (a new period means a new grant)
  validUntil @2 :Int32 = -2147483648 $date $optional;
  unitCostCents @3 :Int64 $optional;
  providerId @4 :Text $entityId $optional;
  reason @5 :Text;
}

struct GrantEnded {                 # stream grant/<grantId>; the effective date is the last day of service
  grantId @0 :Text $entityId;
  reason @1 :GrantEndReason;
  note @2 :Text $optional;
}

struct ServiceSuspended {           # stream grant/<grantId>; from the effective date
  grantId @0 :Text $entityId;
  reason @1 :Text;
}

struct ServiceResumed {             # stream grant/<grantId>; from the effective date
  grantId @0 :Text $entityId;
}

struct ServiceDelivered {           # stream grant/<grantId>; the effective date is the (first) day delivered
  deliveryId @0 :Text $entityId;
  grantId @1 :Text $entityId;
  providerId @2 :Text $entityId;
  quantity @3 :Int64;               # in the service's unit
  costCents @4 :Int64;
  mode @5 :DeliveryMode;
  purpose @6 :DeliveryPurpose $optional;
  lastDate @7 :Int32 = -2147483648 $date $optional;   # day-based services spanning several days
  kind @8 :Text $entityId $optional;  # the kind of therapy or session ("psychologist"), for limits per kind
}

struct DeliveryCorrected {          # stream grant/<grantId>; replaces quantity and cost of a delivery
  deliveryId @0 :Text $entityId;
  quantity @1 :Int64;
  costCents @2 :Int64;
  reason @3 :Text;
  purpose @4 :DeliveryPurpose $optional;
  kind @5 :Text $entityId $optional;  # replaces the delivery's kind when set
}

struct DeliveryVoided {             # stream grant/<grantId>; the delivery did not happen / is withdrawn
  deliveryId @0 :Text $entityId;
  reason @1 :Text;
}

struct ClaimLine {
  deliveryId @0 :Text $entityId;
  amountCents @1 :Int64;
}

struct ReimbursementClaimed {       # stream claim/<claimId>
  claimId @0 :Text $entityId;
  projectId @1 :Text $entityId;
  municipalityId @2 :Text $entityId;
  periodStart @3 :Int32 $date;
  periodEnd @4 :Int32 $date;
  lines @5 :List(ClaimLine);
  totalCents @6 :Int64;             # must equal the sum of the lines
}

struct ReviewLine {
  deliveryId @0 :Text $entityId;
  accepted @1 :Bool;
  approvedCents @2 :Int64;
  reason @3 :Text $optional;        # required when not accepted or partly approved
}

struct ClaimReviewed {              # stream claim/<claimId>
  claimId @0 :Text $entityId;
  lines @1 :List(ReviewLine);
  approvedTotalCents @2 :Int64;     # must equal the sum of approved lines
}

struct ReimbursementPaid {          # stream claim/<claimId>
  claimId @0 :Text $entityId;
  paymentId @1 :Text $entityId;
  amountCents @2 :Int64;
  esfCents @3 :Int64;
  stateCents @4 :Int64;             # esfCents + stateCents == amountCents
  paymentReference @5 :Text $optional;
}

# Audit events: recorded by the ledger itself (`di-ledger audit checkpoint` / `audit rotate-key`, or the
# store option checkpoint_every), never accepted from a client. Hashes, keys and signatures are lowercase
# hex. The signed statements and the verification procedure are in docs/audit.md.

struct CheckpointSigned {           # stream audit/checkpoints; a signed Merkle tree head
  treeSize @0 :UInt64;              # covers positions 1..treeSize, i.e. every event before this one
  rootHash @1 :Text;                # RFC 6962 Merkle tree hash of those events (64 hex)
  keyId @2 :Text;                   # first 8 bytes of SHA-256(publicKey) (16 hex)
  publicKey @3 :Text;               # Ed25519 public key (64 hex)
  signature @4 :Text;               # Ed25519 signature of the checkpoint statement (128 hex)
}

struct SigningKeyRotated {          # stream audit/signing_keys; also a signed tree head, by both keys
  treeSize @0 :UInt64;              # as in CheckpointSigned
  rootHash @1 :Text;
  oldKeyId @2 :Text;                # the key in use until now
  oldPublicKey @3 :Text;
  newKeyId @4 :Text;                # the key that signs from now on
  newPublicKey @5 :Text;
  oldKeySignature @6 :Text;         # both sign the rotation statement: the old key authorises the new
  newKeySignature @7 :Text;         # one, the new key proves it is held and vouches for the old one
}

# ---------------------------------------------------------------------------------------------------------
# Envelope
# ---------------------------------------------------------------------------------------------------------

# What a client submits. Idempotency compares the canonical bytes of this struct.
struct Event {
  id @0 :Text;                      # client-supplied, unique, 1..64 chars of [A-Za-z0-9._:-]
  effectiveDate @1 :Int32 $date;    # valid time: when it happened in the world
  actor @2 :Text;                   # who recorded it
  causationId @3 :Text $optional;   # the event that caused this one
  payload :union {
    projectRegistered @4 :ProjectRegistered;
    budgetAmended @5 :BudgetAmended;
    projectExpenseRecorded @6 :ProjectExpenseRecorded;
    municipalityRegistered @7 :MunicipalityRegistered;
    municipalitiesMerged @8 :MunicipalitiesMerged;
    providerRegistered @9 :ProviderRegistered;
    providerContracted @10 :ProviderContracted;
    rulesEnacted @11 :RulesEnacted;
    personEnrolled @12 :PersonEnrolled;
    residenceChanged @13 :ResidenceChanged;
    disabilityRecorded @14 :DisabilityRecorded;
    specialCareOpinionRecorded @15 :SpecialCareOpinionRecorded;
    parentActivityRecorded @16 :ParentActivityRecorded;
    needsAssessed @17 :NeedsAssessed;
    supportPlanApproved @18 :SupportPlanApproved;
    applicationSubmitted @19 :ApplicationSubmitted;
    applicationDecided @20 :ApplicationDecided;
    serviceGranted @21 :ServiceGranted;
    grantAmended @22 :GrantAmended;
    grantEnded @23 :GrantEnded;
    serviceSuspended @24 :ServiceSuspended;
    serviceResumed @25 :ServiceResumed;
    serviceDelivered @26 :ServiceDelivered;
    deliveryCorrected @27 :DeliveryCorrected;
    deliveryVoided @28 :DeliveryVoided;
    reimbursementClaimed @29 :ReimbursementClaimed;
    claimReviewed @30 :ClaimReviewed;
    reimbursementPaid @31 :ReimbursementPaid;
    checkpointSigned @32 :CheckpointSigned;
    signingKeyRotated @33 :SigningKeyRotated;
    providerClosed @34 :ProviderClosed;
    providerReopened @35 :ProviderReopened;
    transitionPrepared @36 :TransitionPrepared;
    independentLifeStarted @37 :IndependentLifeStarted;
    partnerJoined @38 :PartnerJoined;
    partnerLeft @39 :PartnerLeft;
    projectActivityHeld @40 :ProjectActivityHeld;
  }
}

# What the ledger stores at a global position. The value in the `log` column family is
# 32 bytes of hash followed by the canonical Cap'n Proto encoding of this struct, and
#   hash = SHA-256(previous hash || those canonical bytes)     (previous hash of position 1: 32 zero bytes)
struct RecordedEvent {
  position @0 :UInt64;              # global, strictly increasing from 1, no holes
  recordedAtMicros @1 :Int64;       # transaction time, UTC microseconds since the epoch; non-decreasing
  stream @2 :Text;                  # derived from the entity, e.g. person/P-0001
  streamVersion @3 :UInt64;         # 1-based position within the stream
  event @4 :Event;
  # True when recordedAtMicros was asserted by an importer (a migration of history kept in an older system:
  # `import --keep-recorded-at`), false when the ledger observed it at append. Default false: an event
  # recorded before this field existed is unchanged, to the byte (canonical form truncates trailing zero
  # words of the data section), so its hash is unchanged too; a true flag is covered by the hash chain.
  recordedAtAsserted @5 :Bool;
}
