"""BattINFO terms used in the bundles' JSON-LD, with their IRIs.

Looked up in the BattINFO ontology's own JSON-LD context (emmo-repo/domain-battery,
``context/context.json`` at commit e2c0c57, 2026-08-04, published at
https://w3id.org/emmo/domain/battery/context). The bundles carry these terms in an inline
``@context``, so they expand without a network, and name the ontology (``ONTOLOGY_IRI``) with
``dcterms:conformsTo``. BattINFO has no neutron-diffraction or XAS-specific class: D2B uses
CHAMEO's ``ScatteringAndDiffraction`` and XAS its ``Nexafs`` (near-edge X-ray absorption fine
structure, i.e. XANES), both imported by BattINFO.
"""

ONTOLOGY_IRI = "https://w3id.org/emmo/domain/battery"

CLASSES = {
    "BatteryCell": "https://w3id.org/emmo/domain/battery#battery_68ed592a_7924_45d0_a108_94d6275d57f0",
    "PositiveElectrode": "https://w3id.org/emmo/domain/electrochemistry#electrochemistry_aff732a9_238a_4734_977c_b2ba202af126",
    "NegativeElectrode": "https://w3id.org/emmo/domain/electrochemistry#electrochemistry_c94c041b_8ea6_43e7_85cc_d2bce7785b4c",
    "ActiveMaterial": "https://w3id.org/emmo/domain/electrochemistry#electrochemistry_79d1b273_58cd_4be6_a250_434817f7c261",
    "LithiumNickelOxide": "https://w3id.org/emmo/domain/chemical-substance#substance_c28a0967_ed23_48cc_a14e_a651d75a19db",
    "Graphite": "https://w3id.org/emmo/domain/chemical-substance#substance_d53259a7_0d9c_48b9_a6c1_4418169df303",
    "Electrolyte": "https://w3id.org/emmo/domain/electrochemistry#electrochemistry_fb0d9eef_92af_4628_8814_e065ca255d59",
    "ElectrolyteAdditive": "https://w3id.org/emmo/domain/electrochemistry#electrochemistry_554286d4_1f46_44c0_bebc_4ddae00dbce1",
    "CyclingTest": "https://w3id.org/emmo/domain/electrochemistry#electrochemistry_435b22d4_c441_45ea_8c79_0cbec11fd287",
    "ElectrochemicalTestingProcedure": "https://w3id.org/emmo/domain/electrochemistry#electrochemistry_830d02dd_f897_4c3c_95a7_c5e5eafa346a",
    "CharacterisationProcedure": "https://w3id.org/emmo/domain/characterisation-methodology/chameo#CharacterisationProcedure",
    "ScatteringAndDiffraction": "https://w3id.org/emmo/domain/characterisation-methodology/chameo#ScatteringAndDiffraction",
    "Nexafs": "https://w3id.org/emmo/domain/characterisation-methodology/chameo#Nexafs",
    "BatteryCycler": "https://w3id.org/emmo/domain/battery#battery_23e6170d_a70b_4de9_a4db_458e24a327ac",
    "CharacterisationMeasurementInstrument": "https://w3id.org/emmo/domain/characterisation-methodology/chameo#CharacterisationMeasurementInstrument",
    "Synchrotron": "https://w3id.org/emmo/domain/characterisation-methodology/chameo#Synchrotron",
    "StateOfHealth": "https://w3id.org/emmo/domain/electrochemistry#electrochemistry_a7a4614f_2426_46f3_8475_cda4a9fabfce",
    "CycleLife": "https://w3id.org/emmo/domain/electrochemistry#electrochemistry_ae782b14_88ce_4cdd_9418_12aca00be937",
    "Mass": "https://w3id.org/emmo#EMMO_ed4af7ae_63a2_497e_bb88_2309619ea405",
    "RealData": "https://w3id.org/emmo#EMMO_18d180e4_5e3e_42f7_820c_e08951223486",
    "MilliGram": "https://w3id.org/emmo#MilliGram",
}

PROPERTIES = {
    "hasPositiveElectrode": "https://w3id.org/emmo/domain/electrochemistry#electrochemistry_8e9cf965_9f92_46e8_b678_b50410ce3616",
    "hasNegativeElectrode": "https://w3id.org/emmo/domain/electrochemistry#electrochemistry_5d299271_3f68_494f_ab96_3db9acdd3138",
    "hasActiveMaterial": "https://w3id.org/emmo/domain/electrochemistry#electrochemistry_860aa941_5ff9_4452_8a16_7856fad07bee",
    "hasElectrolyte": "https://w3id.org/emmo/domain/electrochemistry#electrochemistry_3bd08946_4e81_455d_9fca_dc7a5ead9315",
    "hasAdditive": "https://w3id.org/emmo/domain/electrochemistry#electrochemistry_7df82c48_b599_4b02_bef0_9facc9c39410",
    "hasTestObject": "https://w3id.org/emmo/domain/battery#battery_da3b3f28_aaad_4d67_b674_df47e109fb8b",
    "hasCharacterisationMeasurementInstrument": "https://w3id.org/emmo/domain/characterisation-methodology/chameo#hasCharacterisationMeasurementInstrument",
    "hasInput": "https://w3id.org/emmo#EMMO_36e69413_8c59_4799_946c_10b05d266e22",
    "hasOutput": "https://w3id.org/emmo#EMMO_c4bace1d_4db0_4cd3_87e9_18122bae2840",
    "hasProperty": "https://w3id.org/emmo#EMMO_e1097637_70d2_4895_973f_2396f04fa204",
    "hasNumericalPart": "https://w3id.org/emmo#EMMO_8ef3cd6d_ae58_4a8d_9fc0_ad8f49015cd0",
    "hasNumberValue": "https://w3id.org/emmo#EMMO_faf79f53_749d_40b2_807c_d34244c192f4",
    "hasMeasurementUnit": "https://w3id.org/emmo#EMMO_bed1d005_b04e_4a90_94cf_02bc678a8569",
}
# Namespaces of the schema.org Dataset fields and the provenance beside the BattINFO terms.
NAMESPACES = {
    "schema": "https://schema.org/",
    "dcterms": "http://purl.org/dc/terms/",
    "prov": "http://www.w3.org/ns/prov#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}

# Active materials named in the registry's ``chemistry`` (``cathode||anode``) and electrode ``material``.
MATERIALS = {"linio2": "LithiumNickelOxide", "lno": "LithiumNickelOxide", "graphite": "Graphite", "gr": "Graphite"}

# The technique of each partition (the measurement process class) and its instrument class.
TECHNIQUE_CLASSES = {"cycling": "CyclingTest", "d2b": "ScatteringAndDiffraction", "xas": "Nexafs"}
INSTRUMENT_CLASSES = {"cycling": "BatteryCycler", "d2b": "CharacterisationMeasurementInstrument",
                      "xas": "CharacterisationMeasurementInstrument"}
PROCEDURE_CLASSES = {"cycling": "ElectrochemicalTestingProcedure", "d2b": "CharacterisationProcedure",
                     "xas": "CharacterisationProcedure"}


def context() -> dict:
    """The inline JSON-LD ``@context``: every BattINFO term above, and the namespaces.

    ``hasMeasurementUnit`` takes a term (``"MilliGram"``) as its value, so it is typed ``@vocab``.
    """
    terms = {**NAMESPACES, **CLASSES, **PROPERTIES}
    terms["hasMeasurementUnit"] = {"@id": PROPERTIES["hasMeasurementUnit"], "@type": "@vocab"}
    return terms


def material_class(name: str) -> str:
    """The BattINFO class of an active material as the registry names it; ``ActiveMaterial`` when unknown."""
    return MATERIALS.get(name.strip().lower(), "ActiveMaterial")
