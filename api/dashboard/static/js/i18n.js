// Every visible string in Danish and English, number and date formats, and alert reasons
// rendered from their code and parameters. A key missing in the current language is recorded
// in window.kolMissingKeys (the browser tests fail on any) and shown as the key itself.

const STRINGS = {
  da: {
    title: "KOL telemonitorering", logout: "Log ud", login: "Log ind", username: "Brugernavn",
    password: "Adgangskode", bad_login: "Forkert brugernavn eller adgangskode",
    throttled: "For mange forsøg. Prøv igen senere.", triage: "Triage", patient: "Borger",
    severity: "Alvor", open_alerts: "Åbne alarmer", oldest: "Ældste ubehandlede",
    last_measured: "Seneste måling", red: "Rød", yellow: "Gul", blue: "Blå", green: "Grøn",
    none: "Ingen", spo2: "Iltmætning", pulse: "Puls", weight: "Vægt",
    "spo2+pulse": "Iltmætning og puls", acknowledge: "Kvitter", resolve: "Afslut", note: "Note",
    ack_green: "Kvitter alle grønne", thresholds: "Grænseværdier", history: "Historik",
    reason: "Begrundelse", preview: "Forhåndsvis", save: "Gem", back: "Tilbage til triage",
    no_alerts: "Ingen åbne alarmer", latest: "Seneste målinger", late: "forsinket",
    open: "ubehandlet", acknowledged: "kvitteret", resolved: "afsluttet", saved: "Gemt",
    live: "opdateres live", reconnecting: "forbinder igen …",
    red_low: "Rød under", yellow_low: "Gul under", yellow_high: "Gul over", red_high: "Rød over",
    preview_result: "{n} alarmer ville være rejst de seneste {d} dage",
    reason_needed: "Skriv en begrundelse", version: "version", by: "af", no_data: "Ingen målinger",
    pauses: "Pauser", profile: "Profil", team: "Team", days_shown: "seneste 90 dage",
    alert_changed: "Alarmen er blevet forværret, siden den blev vist. Se den igen.",
    session_ended: "Sessionen er udløbet. Log ind igen.",
    idle_logout: "Du er logget ud, fordi siden ikke er brugt i et stykke tid.",
    search: "Søg efter navn", all: "Alle", status: "Status", sort: "Sortér",
    needs_handling: "Skal behandles", acknowledged_only: "Kun kvitterede", quiet: "Uden alarmer",
    sort_priority: "Prioritet", sort_name: "Navn", sort_measured: "Seneste måling",
    unhandled: "ubehandlede", acknowledged_n: "kvitterede", shown: "{n} af {m} borgere",
    alert_updated: "Alarm opdateret", language: "Sprog",
    step_opened: "Rejst", step_updated: "Opdateret", step_escalated: "Forværret",
    step_acknowledged: "Kvitteret", step_resolved: "Afsluttet",
    alert_history: "Alarmhistorik", access_log: "Adgangslog", when: "Hvornår", who: "Hvem",
    what: "Hvad", read_overview: "Oversigt", read_measurements: "Målinger", read_fhir: "FHIR-eksport",
    read_alerts: "Alarmer", read_thresholds: "Grænseværdier", "read_threshold-history": "Grænseværdihistorik",
    "read_threshold-proposal": "Forslag til personlige grænser", read_messages: "Beskeder",
    messages: "Beskeder", unread_messages: "{n} ulæste", msg_none: "Ingen beskeder endnu",
    msg_from_patient: "Borgeren", msg_from_team: "{who} (team)", msg_callback: "Beder om at blive ringet op",
    msg_unread: "Ulæst", msg_read_by: "Læst af {who} {at}", msg_read_by_patient: "Læst af borgeren {at}",
    msg_not_read_by_patient: "Ikke læst af borgeren endnu", msg_mark_read: "Markér som læst",
    msg_marked_read: "Markeret som læst", msg_reply_label: "Svar til borgeren (vises på tabletten)",
    msg_send: "Send svar", msg_sent: "Svar sendt",
    read_diary: "Symptomdagbog", diary: "Symptomdagbog", diary_none: "Ingen dagbøger endnu",
    diary_no_symptoms: "Ingen symptomer ud over det sædvanlige", diary_major: "hovedsymptom",
    diary_late: "modtaget sent, {at}",
    "read_auto-personalisation": "Automatisk personalisering",
    auto_personalise: "Automatisk personalisering", auto_on: "Til", auto_off: "Fra",
    auto_source_patient: "sat for borgeren af {who} {when}: {reason}",
    auto_source_profile: "profilens standard ({profile})",
    auto_run_in: "Indkøringsperioden ({n} dage) slutter {when}; er den slået til, sætter systemet da personlige grænser",
    auto_ran: "Kørt {when}: {outcome}", auto_outcome_applied: "personlige grænser sat",
    auto_outcome_nothing_to_change: "intet at ændre", auto_outcome_too_few_readings: "for få målinger",
    auto_turn_on: "Slå til", auto_turn_off: "Slå fra",
    th_absolute: "Faste grænser", th_baseline: "Afvigelse fra egen basislinje",
    th_trend: "Tendenser", th_artefact: "Værn mod fejlmålinger", th_combined: "Kombineret regel",
    th_red_low: "Rød under", th_yellow_low: "Gul under", th_yellow_high: "Gul over", th_red_high: "Rød over",
    th_yellow_off_while_diary_kept: "Ingen gul når dagbogen føres",
    th_drop_red: "Fald, rød", th_drop_yellow: "Fald, gul", th_rise_red: "Stigning, rød",
    th_rise_yellow: "Stigning, gul", th_change_3d_yellow: "Ændring mod 3 dage, gul",
    th_loss_30d_pct_yellow: "Tab over 30 dage i %, gul", th_slope_3d_fall_yellow: "Faldende tendens over 3 dage, gul",
    th_slope_3d_rise_yellow: "Stigende tendens over 3 dage, gul", th_suspect_drop: "Mistænkeligt pludseligt fald",
    th_red_floor: "Rød alarm altid under",
    th_z_yellow: "Gul ved (SD)", th_z_red: "Rød ved (SD)", th_spo2_sd_floor: "Mindste SD for iltmætning",
    th_pulse_sd_floor: "Mindste SD for puls",
    th_symptoms: "Symptomdagbog", th_major_yellow: "Gul ved antal hovedsymptomer",
    th_seemungal_days_red: "Rød ved dage i træk med Seemungal-kriteriet",
    th_z_red_with_major: "Kombineret regel rød ved (SD) med hovedsymptom",
    th_major_confirm_z: "Ét hovedsymptom kun gult med andet tegn: kombineret z mindst",
    th_z_yellow_diary: "Gul ved (SD) når dagbogen føres",
    preview_summary: "{now} alarmer med ændringen mod {before} nu, de seneste {d} dage",
    gained: "Nye alarmer ({n})", lost: "Bortfaldne alarmer ({n})",
    disposition: "Udfald", no_action_needed: "Ingen handling nødvendig",
    advice_by_phone: "Råd pr. telefon", home_visit: "Hjemmebesøg", gp_contacted: "Egen læge kontaktet",
    admitted: "Indlagt", measurement_error: "Målefejl", burden: "Alarmbyrde",
    alerts_per_week: "Alarmer pr. uge (30 dage)", pending_proposal: "Forslag til personlige grænser",
    personal: "Personlige grænser (forslag)", accept: "Brug forslaget",
    proposal_preview: "Seneste {d} dage: {a} alarmer med de nuværende grænser, {b} med forslaget",
    proposal_none: "Intet forslag: grænserne passer, eller der er for få målinger",
    proposal_reason: "Personlige grænser fra indkøringsperioden",
    outcomes: "Udfald af alarmer (30 dage)", rule: "Regel", alerts: "Alarmer",
    share_actioned: "Førte til handling", absolute: "Grænse", baseline: "Eget niveau",
    warned_admissions: "Indlæggelser for KOL-eksacerbation: {n}, heraf {w} med en alarm i de 7 dage før ({s}); median forvarsel {l} dage",
    episodes_no_action: "Alarmforløb: {e}, heraf vurderet uden behov for handling: {f} ({r} pr. borgermåned)",
    combined: "Kombineret", change_3d: "Ændring 3 dage", loss_30d: "Tab 30 dage",
    slope_3d: "Tendens 3 dage", missing: "Manglende måling", symptoms: "Symptomer",
    seemungal: "Seemungal-kriteriet",
    care: "Borgeroplysninger", call: "Ring til", f_display_name: "Navn", f_phone: "Telefon", f_contact_person: "Kontaktperson",
    f_contact_phone: "Kontaktpersonens telefon", f_gp: "Egen læge", f_notes: "Noter", schedule: "Måleplan",
    edit_details: "Ret oplysninger", edit_schedule: "Ret måleplan", measure_days: "Måledage", diary_days: "Symptomdagbog på",
    measure_types: "Målinger", deadline: "Frist", day_mon: "man", day_tue: "tir", day_wed: "ons",
    day_thu: "tor", day_fri: "fre", day_sat: "lør", day_sun: "søn", no_pauses: "Ingen pauser",
    end_pause: "Afslut pausen nu", add_pause: "Tilføj pause", from: "Fra", to: "Til",
    tablets: "Tablets", tablet: "Tablet", no_tablets: "Ingen tablet", device_inactive: "deaktiveret", connection_online: "forbundet",
    connection_offline: "OFFLINE", connection_unknown: "endnu ikke hørt fra", battery: "Batteri",
    last_seen: "Sidst set", deactivate: "Deaktivér", reactivate: "Genaktivér", pair_tablet: "Par ny tablet", device_deactivated: "Tablet deaktiveret",
    transfer: "Overflyt til andet team", to_team: "Til team", transferred: "Borgeren er overflyttet",
    discharge: "Udskriv", discharged: "Borgeren er udskrevet",
    discharge_explained: "Alarmer og måleplan stopper, tablets deaktiveres; historikken bevares.",
    discharged_at: "Udskrevet {when}", pause_ended: "Pausen er afsluttet", enrol: "Indskriv borger",
    enrolled: "Borgeren er indskrevet", administration: "Administration", users: "Brugere", teams: "Teams",
    role: "Rolle", role_nurse: "sygeplejerske", role_clinician: "læge", role_admin: "administrator",
    active: "aktiv", inactive: "deaktiveret", reset_password: "Ny adgangskode", new_user: "Ny bruger",
    create: "Opret", members: "Medlemmer", idle_timeout: "Log ud efter inaktivitet (minutter)",
    default: "standard", new_team: "Nyt team", actions: "Handlinger",
    code_for: "Engangskode til {user}, gyldig til {until}:", or_link: "eller linket",
    set_password: "Vælg adgangskode", code: "Engangskode", new_password: "Ny adgangskode (mindst 10 tegn)",
    password_set: "Adgangskoden er gemt. Log ind.", bad_code: "Koden er ukendt, brugt eller udløbet.",
    have_code: "Har du fået en engangskode?",
    role_manager: "leder (kun nøgletal)", outcomes_page: "Resultater",
    o_intro: "Nøgletal for kommunen og dens teams pr. måned mod referenceåret. Kun samlede tal; ingen borgere vises.",
    o_to_month: "Til og med måned", o_months: "Antal måneder", reference_year: "Referenceår", o_group: "Kommune eller team",
    o_show: "Vis", o_csv: "Hent CSV", o_municipality: "Hele kommunen", o_table: "Alle tal",
    o_min_group: "Grupper med færre end {n} monitorerede borgere vises ikke (·)",
    o_before_text: "året før indskrivning: {rate} indlæggelser pr. borger-år ({n} borgere med kendt forløb)",
    o_suppressed_note: "· = for få borgere til at vise tal", o_figure: "Nøgletal",
    o_patients_monitored: "Monitorerede borgere", o_patient_years: "Borger-år", o_admissions: "Akutte indlæggelser",
    o_admissions_per_patient_year: "Akutte indlæggelser pr. borger-år", o_outpatient_visits: "Ambulante besøg",
    o_outpatient_per_patient_year: "Ambulante besøg pr. borger-år", o_emergency_visits: "Akutmodtagelse",
    o_exacerbation_admissions: "Indlæggelser for KOL-eksacerbation", o_exacerbation_warned: "… med en alarm i de 7 dage før",
    o_share_warned: "Andel varslet af en alarm",
    o_adherence: "Målinger taget som planlagt", o_alerts_per_patient_month: "Alarmer pr. borger-måned",
    o_alerts_red: "Røde alarmer pr. borger-måned", o_alerts_yellow: "Gule alarmer pr. borger-måned",
    o_alerts_blue: "Blå alarmer pr. borger-måned", o_alerts_green: "Grønne alarmer pr. borger-måned",
    o_disp_no_action_needed: "Udfald: ingen handling", o_disp_advice_by_phone: "Udfald: råd pr. telefon",
    o_disp_home_visit: "Udfald: hjemmebesøg", o_disp_gp_contacted: "Udfald: egen læge", o_disp_admitted: "Udfald: indlagt",
    o_disp_measurement_error: "Udfald: målefejl", o_disp_none: "Udfald: ikke angivet",
    o_red_ack: "Minutter fra rød alarm til kvittering", o_red_p50: "Rød alarm til kvittering, median (min)",
    o_red_p90: "Rød alarm til kvittering, 90 %-fraktil (min)", o_pro_share: "Klarer sig uden kontakt til sygehuset",
    o_pro_answers: "Svar på spørgsmålet", o_goal: "Mål: 90 %", o_before_enrolment: "Året før indskrivning",
    consents: "Samtykker", no_consents: "Intet samtykke registreret", add_consent: "Registrér samtykke", scope: "Omfang",
    scope_telemonitoring: "Telemonitorering", scope_share_gp: "Deling med egen læge", scope_share_hospital: "Deling med sygehuset",
    consent_day: "Dato for samtykket", consent_given: "givet {day}, registreret af {who}",
    consent_withdrawn: "trukket tilbage {day} af {who}", withdraw: "Træk tilbage",
    withdraw_discharges: "Når samtykket til telemonitorering trækkes tilbage, udskrives borgeren. Fortsæt?",
    consent_withdrawn_toast: "Samtykket er trukket tilbage", admissions_before: "Akutte indlæggelser de seneste 12 måneder før indskrivning (hvis kendt)",
    care_events: "Kontakter med sygehuset", care_kind: "Hændelse", kind_admission: "Akut indlæggelse", kind_discharge: "Udskrivning",
    kind_emergency: "Akutmodtagelse", kind_outpatient: "Ambulant besøg", hospital: "Sygehus", record: "Registrér",
    care_fix: "Træk tilbage / ret", care_fix_why: "Begrundelse (påkrævet)", care_withdraw: "Træk tilbage",
    care_correct_as: "Ret til", care_correct: "Gem rettelse", care_withdrawn: "trukket tilbage {day} af {who}",
    care_corrected: "rettet {day} af {who}", care_withdrawn_toast: "Hændelsen er trukket tilbage og tælles ikke med",
    care_corrected_toast: "Hændelsen er rettet",
    no_care_events: "Ingen registrerede kontakter", from_alert: "fra alarm", admission_recorded: "Indlæggelsen er registreret; monitoreringen er sat på pause",
    cr_copd_exacerbation: "KOL-forværring", cr_pneumonia: "Lungebetændelse", cr_heart: "Hjerte",
    cr_other_respiratory: "Anden luftvejssygdom", cr_other: "Andet", cr_planned_control: "Planlagt kontrol",
    // reasons
    r_absolute_below: "{name} {metric} {unit} under {severity_limit} {limit}",
    r_absolute_above: "{name} {metric} {unit} over {severity_limit} {limit}",
    r_baseline: "{name} {metric_signed} {unit} i forhold til 14-dages basislinjen {reference} ({severity} ved {limit_signed})",
    r_change_3d: "{name} ændret {metric_signed} {unit} i forhold til de seneste 3 dage ({reference})",
    r_loss_30d: "{name} faldet {metric} % på 30 dage (fra {reference} {unit})",
    r_slope_3d: "{name}: tendens {metric_signed} {unit} over 3 dage ({severity} ved {limit_signed})",
    r_combined: "Fald i iltmætning og stigning i puls, i gennemsnit {metric} SD af borgerens egen variation ({severity} ved {limit})",
    r_missing: "Ingen måling af {name_lower} inden fristen {deadline}",
    r_legacy: "{name}: {rule} ({severity}), seneste værdi {metric} {unit}",
    r_symptoms: "{metric} hovedsymptom(er) i symptomdagbogen ({severity} ved {limit})",
    r_seemungal: "Seemungal-kriteriet opfyldt i symptomdagbogen {metric} dag(e) i træk ({severity} ved {limit})",
    r_combined_symptom: "Fald i iltmætning og stigning i puls, i gennemsnit {metric} SD af borgerens egen variation, med hovedsymptom i dagbogen ({severity} ved {limit})",
    limit_red: "den røde grænse", limit_yellow: "den gule grænse",
  },
  en: {
    title: "KOL telemonitoring", logout: "Log out", login: "Log in", username: "Username",
    password: "Password", bad_login: "Wrong username or password",
    throttled: "Too many attempts. Try again later.", triage: "Triage", patient: "Patient",
    severity: "Severity", open_alerts: "Open alerts", oldest: "Oldest unhandled",
    last_measured: "Last measurement", red: "Red", yellow: "Yellow", blue: "Blue",
    green: "Green", none: "None", spo2: "SpO2", pulse: "Pulse", weight: "Weight",
    "spo2+pulse": "SpO2 and pulse", acknowledge: "Acknowledge", resolve: "Resolve",
    note: "Note", ack_green: "Acknowledge all green", thresholds: "Thresholds",
    history: "History", reason: "Reason", preview: "Preview", save: "Save",
    back: "Back to triage", no_alerts: "No open alerts", latest: "Latest readings",
    late: "late", open: "unhandled", acknowledged: "acknowledged", resolved: "resolved",
    saved: "Saved", live: "updates live", reconnecting: "reconnecting …",
    red_low: "Red below", yellow_low: "Yellow below",
    yellow_high: "Yellow above", red_high: "Red above",
    preview_result: "{n} alerts would have been raised over the last {d} days",
    alert_changed: "The alert has escalated since it was shown. Look at it again.",
    reason_needed: "Write a reason", version: "version", by: "by", no_data: "No readings",
    pauses: "Pauses", profile: "Profile", team: "Team", days_shown: "last 90 days",
    session_ended: "The session has ended. Log in again.",
    idle_logout: "You were logged out because the page was not used for a while.",
    search: "Search by name", all: "All", status: "Status", sort: "Sort",
    needs_handling: "Needs handling", acknowledged_only: "Acknowledged only", quiet: "No alerts",
    sort_priority: "Priority", sort_name: "Name", sort_measured: "Last measurement",
    unhandled: "unhandled", acknowledged_n: "acknowledged", shown: "{n} of {m} patients",
    alert_updated: "Alert updated", language: "Language",
    step_opened: "Raised", step_updated: "Updated", step_escalated: "Escalated",
    step_acknowledged: "Acknowledged", step_resolved: "Resolved",
    alert_history: "Alert history", access_log: "Access log", when: "When", who: "Who",
    what: "What", read_overview: "Overview", read_measurements: "Measurements", read_fhir: "FHIR export",
    read_alerts: "Alerts", read_thresholds: "Thresholds", "read_threshold-history": "Threshold history",
    "read_threshold-proposal": "Personal-limit proposal", read_messages: "Messages",
    messages: "Messages", unread_messages: "{n} unread", msg_none: "No messages yet",
    msg_from_patient: "The patient", msg_from_team: "{who} (team)", msg_callback: "Asks to be called back",
    msg_unread: "Unread", msg_read_by: "Read by {who} {at}", msg_read_by_patient: "Read by the patient {at}",
    msg_not_read_by_patient: "Not read by the patient yet", msg_mark_read: "Mark as read",
    msg_marked_read: "Marked as read", msg_reply_label: "Reply to the patient (shown on her tablet)",
    msg_send: "Send reply", msg_sent: "Reply sent",
    read_diary: "Symptom diary", diary: "Symptom diary", diary_none: "No diaries yet",
    diary_no_symptoms: "No symptoms beyond the usual", diary_major: "major symptom",
    diary_late: "received late, {at}",
    "read_auto-personalisation": "Automatic personalisation",
    auto_personalise: "Automatic personalisation", auto_on: "On", auto_off: "Off",
    auto_source_patient: "set for this patient by {who} {when}: {reason}",
    auto_source_profile: "the profile's default ({profile})",
    auto_run_in: "The run-in ({n} days) ends {when}; if this is on, the platform then sets personal limits",
    auto_ran: "Ran {when}: {outcome}", auto_outcome_applied: "personal limits set",
    auto_outcome_nothing_to_change: "nothing to change", auto_outcome_too_few_readings: "too few readings",
    auto_turn_on: "Turn on", auto_turn_off: "Turn off",
    th_absolute: "Absolute limits", th_baseline: "Deviation from own baseline",
    th_trend: "Trends", th_artefact: "Artefact guard", th_combined: "Combined rule",
    th_red_low: "Red below", th_yellow_low: "Yellow below", th_yellow_high: "Yellow above", th_red_high: "Red above",
    th_yellow_off_while_diary_kept: "No yellow while the diary is kept",
    th_drop_red: "Drop, red", th_drop_yellow: "Drop, yellow", th_rise_red: "Rise, red",
    th_rise_yellow: "Rise, yellow", th_change_3d_yellow: "Change against 3 days, yellow",
    th_loss_30d_pct_yellow: "Loss over 30 days in %, yellow", th_slope_3d_fall_yellow: "Falling trend over 3 days, yellow",
    th_slope_3d_rise_yellow: "Rising trend over 3 days, yellow", th_suspect_drop: "Suspect sudden drop",
    th_red_floor: "Red alert always below",
    th_z_yellow: "Yellow at (SD)", th_z_red: "Red at (SD)", th_spo2_sd_floor: "Smallest SD for SpO2",
    th_pulse_sd_floor: "Smallest SD for pulse",
    th_symptoms: "Symptom diary", th_major_yellow: "Yellow at number of major symptoms",
    th_seemungal_days_red: "Red at days in a row meeting the Seemungal criterion",
    th_z_red_with_major: "Combined rule red at (SD) with a major symptom",
    th_major_confirm_z: "One major symptom yellow only with a second sign: combined z at least",
    th_z_yellow_diary: "Yellow at (SD) while the diary is kept",
    preview_summary: "{now} alerts with the change against {before} now, over the last {d} days",
    gained: "Alerts gained ({n})", lost: "Alerts lost ({n})",
    disposition: "Disposition", no_action_needed: "No action needed",
    advice_by_phone: "Advice by phone", home_visit: "Home visit", gp_contacted: "GP contacted",
    admitted: "Admitted", measurement_error: "Measurement error", burden: "Alert burden",
    alerts_per_week: "Alerts per week (30 days)", pending_proposal: "Personal-limit proposal",
    personal: "Personal limits (proposal)", accept: "Use the proposal",
    proposal_preview: "Last {d} days: {a} alerts with the current limits, {b} with the proposal",
    proposal_none: "No proposal: the limits fit, or there are too few readings",
    proposal_reason: "Personal limits from the run-in",
    outcomes: "Alert outcomes (30 days)", rule: "Rule", alerts: "Alerts",
    share_actioned: "Led to an action", absolute: "Limit", baseline: "Own baseline",
    warned_admissions: "Admissions for a COPD exacerbation: {n}, {w} of them with an alert in the 7 days before ({s}); median warning {l} days",
    episodes_no_action: "Alert episodes: {e}, judged to need no action: {f} ({r} per patient-month)",
    combined: "Combined", change_3d: "3-day change", loss_30d: "30-day loss",
    slope_3d: "3-day trend", missing: "Missing measurement", symptoms: "Symptoms",
    seemungal: "Seemungal criterion",
    care: "Patient details", call: "Call", f_display_name: "Name", f_phone: "Phone", f_contact_person: "Contact person",
    f_contact_phone: "Contact person's phone", f_gp: "GP", f_notes: "Notes", schedule: "Schedule",
    edit_details: "Edit details", edit_schedule: "Edit schedule", measure_days: "Measurement days", diary_days: "Symptom diary on",
    measure_types: "Measurements", deadline: "Deadline", day_mon: "Mon", day_tue: "Tue", day_wed: "Wed",
    day_thu: "Thu", day_fri: "Fri", day_sat: "Sat", day_sun: "Sun", no_pauses: "No pauses",
    end_pause: "End the pause now", add_pause: "Add pause", from: "From", to: "To",
    tablets: "Tablets", tablet: "Tablet", no_tablets: "No tablet", device_inactive: "deactivated", connection_online: "connected",
    connection_offline: "OFFLINE", connection_unknown: "not heard from yet", battery: "Battery",
    last_seen: "Last seen", deactivate: "Deactivate", reactivate: "Reactivate", pair_tablet: "Pair a new tablet", device_deactivated: "Tablet deactivated",
    transfer: "Transfer to another team", to_team: "To team", transferred: "The patient was transferred",
    discharge: "Discharge", discharged: "The patient was discharged",
    discharge_explained: "Alerts and the schedule stop, tablets are deactivated; the history is kept.",
    discharged_at: "Discharged {when}", pause_ended: "The pause has ended", enrol: "Enrol patient",
    enrolled: "The patient is enrolled", administration: "Administration", users: "Users", teams: "Teams",
    role: "Role", role_nurse: "nurse", role_clinician: "clinician", role_admin: "admin",
    active: "active", inactive: "deactivated", reset_password: "New password", new_user: "New user",
    create: "Create", members: "Members", idle_timeout: "Log out after inactivity (minutes)",
    default: "default", new_team: "New team", actions: "Actions",
    code_for: "One-time code for {user}, valid until {until}:", or_link: "or the link",
    set_password: "Choose a password", code: "One-time code", new_password: "New password (at least 10 characters)",
    password_set: "The password is saved. Log in.", bad_code: "The code is unknown, used or expired.",
    have_code: "Were you given a one-time code?",
    role_manager: "manager (figures only)", outcomes_page: "Outcomes",
    o_intro: "Figures for the municipality and its teams by month against the reference year. Aggregates only; no patient is shown.",
    o_to_month: "Up to and including", o_months: "Months", reference_year: "Reference year", o_group: "Municipality or team",
    o_show: "Show", o_csv: "Download CSV", o_municipality: "Whole municipality", o_table: "All figures",
    o_min_group: "Groups with fewer than {n} monitored patients are not shown (·)",
    o_before_text: "year before enrolment: {rate} admissions per patient-year ({n} patients with a known history)",
    o_suppressed_note: "· = too few patients to show figures", o_figure: "Figure",
    o_patients_monitored: "Patients monitored", o_patient_years: "Patient-years", o_admissions: "Acute admissions",
    o_admissions_per_patient_year: "Acute admissions per patient-year", o_outpatient_visits: "Outpatient visits",
    o_outpatient_per_patient_year: "Outpatient visits per patient-year", o_emergency_visits: "Emergency department",
    o_exacerbation_admissions: "Admissions for a COPD exacerbation", o_exacerbation_warned: "… with an alert in the 7 days before",
    o_share_warned: "Share warned of by an alert",
    o_adherence: "Scheduled measurements taken", o_alerts_per_patient_month: "Alerts per patient-month",
    o_alerts_red: "Red alerts per patient-month", o_alerts_yellow: "Yellow alerts per patient-month",
    o_alerts_blue: "Blue alerts per patient-month", o_alerts_green: "Green alerts per patient-month",
    o_disp_no_action_needed: "Disposition: no action", o_disp_advice_by_phone: "Disposition: advice by phone",
    o_disp_home_visit: "Disposition: home visit", o_disp_gp_contacted: "Disposition: GP", o_disp_admitted: "Disposition: admitted",
    o_disp_measurement_error: "Disposition: measurement error", o_disp_none: "Disposition: not given",
    o_red_ack: "Minutes from red alert to acknowledgement", o_red_p50: "Red alert to acknowledgement, median (min)",
    o_red_p90: "Red alert to acknowledgement, 90th percentile (min)", o_pro_share: "Managing without contacting the hospital",
    o_pro_answers: "Answers to the question", o_goal: "Goal: 90 %", o_before_enrolment: "Year before enrolment",
    consents: "Consents", no_consents: "No consent recorded", add_consent: "Record consent", scope: "Scope",
    scope_telemonitoring: "Telemonitoring", scope_share_gp: "Sharing with her GP", scope_share_hospital: "Sharing with the hospital",
    consent_day: "Date of the consent", consent_given: "given {day}, recorded by {who}",
    consent_withdrawn: "withdrawn {day} by {who}", withdraw: "Withdraw",
    withdraw_discharges: "Withdrawing the consent to telemonitoring discharges the patient. Continue?",
    consent_withdrawn_toast: "The consent is withdrawn", admissions_before: "Acute admissions in the 12 months before enrolment (if known)",
    care_events: "Hospital contacts", care_kind: "Event", kind_admission: "Acute admission", kind_discharge: "Discharge",
    kind_emergency: "Emergency department", kind_outpatient: "Outpatient visit", hospital: "Hospital", record: "Record",
    care_fix: "Withdraw / correct", care_fix_why: "Reason (required)", care_withdraw: "Withdraw",
    care_correct_as: "Correct to", care_correct: "Save correction", care_withdrawn: "withdrawn {day} by {who}",
    care_corrected: "corrected {day} by {who}", care_withdrawn_toast: "The event is withdrawn and no longer counted",
    care_corrected_toast: "The event is corrected",
    no_care_events: "No contacts recorded", from_alert: "from an alert", admission_recorded: "Admission recorded; monitoring paused",
    cr_copd_exacerbation: "COPD exacerbation", cr_pneumonia: "Pneumonia", cr_heart: "Heart",
    cr_other_respiratory: "Other respiratory", cr_other: "Other", cr_planned_control: "Planned check-up",
    r_absolute_below: "{name} {metric} {unit} below {severity_limit} {limit}",
    r_absolute_above: "{name} {metric} {unit} above {severity_limit} {limit}",
    r_baseline: "{name} {metric_signed} {unit} against the 14-day baseline {reference} ({severity} at {limit_signed})",
    r_change_3d: "{name} changed {metric_signed} {unit} against the last 3 days ({reference})",
    r_loss_30d: "{name} fell {metric} % in 30 days (from {reference} {unit})",
    r_slope_3d: "{name}: trend {metric_signed} {unit} over 3 days ({severity} at {limit_signed})",
    r_combined: "SpO2 fall and pulse rise average {metric} SD of the patient's own variability ({severity} at {limit})",
    r_missing: "No {name_lower} measurement by the deadline {deadline}",
    r_legacy: "{name}: {rule} ({severity}), last value {metric} {unit}",
    r_symptoms: "{metric} major symptom(s) in the symptom diary ({severity} at {limit})",
    r_seemungal: "Seemungal criterion met in the symptom diary {metric} day(s) in a row ({severity} at {limit})",
    r_combined_symptom: "SpO2 fall and pulse rise average {metric} SD of the patient's own variability, with a major symptom in the diary ({severity} at {limit})",
    limit_red: "the red limit", limit_yellow: "the yellow limit",
  },
};

window.kolMissingKeys = window.kolMissingKeys || [];

export const lang = () => (localStorage.getItem("kol.lang") === "en" ? "en" : "da");
export const locale = () => (lang() === "da" ? "da-DK" : "en-GB");
export const languages = () => Object.keys(STRINGS);
export const keys = (language) => Object.keys(STRINGS[language]);

export function setLang(language) { localStorage.setItem("kol.lang", language); }

export function t(key, values = {}) {
  let text = STRINGS[lang()][key];
  if (text === undefined) {
    window.kolMissingKeys.push(`${lang()}:${key}`);
    text = key;
  }
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in values ? values[name] : m));
}

export const esc = (value) => String(value ?? "").replace(/[&<>"']/g,
  (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

// Formatters are made once per language and kind: making an Intl formatter costs about half a
// millisecond, and the triage list formats two dates on each of its 500 rows at every redraw
// (made per call, one redraw took half a second of the page's only thread, and alert events
// queued up behind the redraws).
const formatters = new Map();

function formatter(key, make) {
  const full = `${locale()}|${key}`;
  let made = formatters.get(full);
  if (!made) {
    made = make(locale());
    formatters.set(full, made);
  }
  return made;
}

export function num(value, digits = null) {
  if (value === null || value === undefined) return "–";
  return formatter(`num:${digits}`, (l) => new Intl.NumberFormat(l, digits === null
    ? { maximumFractionDigits: 2 }
    : { minimumFractionDigits: digits, maximumFractionDigits: digits })).format(value);
}

const signed = (value, digits) => (value > 0 ? "+" : "") + num(value, digits);

export function when(iso) {
  if (!iso) return "–";
  return formatter("when", (l) => new Intl.DateTimeFormat(l, {
    dateStyle: "short", timeStyle: "short", timeZone: "Europe/Copenhagen",
  })).format(new Date(iso));
}

export function day(ms) {
  return formatter("day", (l) => new Intl.DateTimeFormat(l, {
    day: "numeric", month: "short", timeZone: "Europe/Copenhagen",
  })).format(new Date(ms));
}

/** An alert's reason in the user's language from its code and parameters. Reasons stored before
 * codes were derived by migration 0474, those it could not read as the generic `legacy` (the
 * alert's type, rule, severity and value); an alert without a code (written by hand) shows its
 * stored English sentence. */
export function reasonText(alert) {
  const code = alert.reason_code, p = alert.reason_params;
  if (!code || !p) return alert.reason;
  const name = t(p.type);
  const values = {
    name, name_lower: name.toLowerCase(), unit: p.unit ?? "",
    metric: num(p.metric, code.startsWith("combined") ? 2 : null), limit: num(p.limit),
    reference: num(p.reference, 1), severity: t(p.severity ?? "none").toLowerCase(),
    severity_limit: t(`limit_${p.severity}`), metric_signed: signed(p.metric, 1),
    limit_signed: signed(p.limit, null), deadline: when(p.deadline),
    rule: p.rule ? t(p.rule).toLowerCase() : "",
  };
  return t(`r_${code}`, values);
}
