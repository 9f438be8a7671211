//! The load-time policy: the checks the loader makes on a verified
//! package's manifest before anything touches the card.

use crate::error::PolicyError;
use crate::manifest::Manifest;

/// What the loader accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadPolicy {
    /// The target of the card being loaded.
    pub target: String,
    /// The lowest security version allowed: the highest the card has
    /// accepted so far.
    pub min_security_version: u32,
    /// The contract major version the driver speaks.
    pub contract_major: u16,
}

impl LoadPolicy {
    /// The policy for this driver: its contract major version
    /// ([`hsm_contract::CONTRACT_MAJOR`]), the card's target and the
    /// highest security version the card has accepted.
    pub fn for_driver(target: &str, min_security_version: u32) -> LoadPolicy {
        LoadPolicy {
            target: target.to_owned(),
            min_security_version,
            contract_major: hsm_contract::CONTRACT_MAJOR,
        }
    }

    /// Checks a manifest (one from [`crate::Verified`]): the target, then
    /// the contract major version, then the security version. A pure
    /// function of its arguments.
    ///
    /// # Errors
    ///
    /// The [`PolicyError`] of the first check that fails.
    pub fn check(&self, manifest: &Manifest) -> Result<(), PolicyError> {
        if manifest.target != self.target {
            return Err(PolicyError::Target {
                expected: self.target.clone(),
                package: manifest.target.clone(),
            });
        }
        if manifest.contract_major != self.contract_major {
            return Err(PolicyError::ContractMajor {
                driver: self.contract_major,
                package: manifest.contract_major,
            });
        }
        if manifest.security_version < self.min_security_version {
            return Err(PolicyError::SecurityVersion {
                package: manifest.security_version,
                minimum: self.min_security_version,
            });
        }
        Ok(())
    }
}
