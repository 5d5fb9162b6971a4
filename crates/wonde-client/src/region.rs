//! Wonde's regional API domains.
//!
//! From the Wonde API documentation, "Regional Domains" (<https://docs.wonde.com/>): "The domain used for Wonde API
//! requests varies depending on the region that a school is located … This domain can then be used to build the
//! API call by inserting the domain into the following base URL `https://{domain}/v1.0/schools/`. Using the wrong
//! domain for a school will return no data." The documented domains are `api.wonde.com` (UK and the rest of the
//! world), `api-ap-southeast-2.wonde.com` (Australia and New Zealand), `api-af-south-1.wonde.com` (South Africa)
//! and `api-us-west-2.wonde.com` (US); for other places the docs say to read the domain from the `region` object
//! of the school (`GET /v1.0/schools/{id}`), which [`Region::Domain`] carries.

use std::fmt;
use std::str::FromStr;
use url::Url;

/// Where a school's data lives, and so which API domain serves it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Region {
    /// The UK (and the rest of the world unless the school's `region` says otherwise): `api.wonde.com`.
    #[default]
    Uk,
    /// Australia and New Zealand: `api-ap-southeast-2.wonde.com`.
    AustraliaNewZealand,
    /// South Africa: `api-af-south-1.wonde.com`.
    SouthAfrica,
    /// The United States: `api-us-west-2.wonde.com`.
    UnitedStates,
    /// Another Wonde domain, as the school's `region.domain` gives it (e.g. `api-eu-west-1.wonde.com`).
    Domain(String),
}

/// A region that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a Wonde region: use uk, anz (Australia and New Zealand), za (South Africa), us, or the school's \
     API domain such as api-ap-southeast-2.wonde.com"
)]
pub struct UnknownRegion(pub String);

impl Region {
    /// The API domain, e.g. `api.wonde.com`.
    pub fn domain(&self) -> &str {
        match self {
            Region::Uk => "api.wonde.com",
            Region::AustraliaNewZealand => "api-ap-southeast-2.wonde.com",
            Region::SouthAfrica => "api-af-south-1.wonde.com",
            Region::UnitedStates => "api-us-west-2.wonde.com",
            Region::Domain(d) => d,
        }
    }

    /// The v1.0 base URL, `https://{domain}/v1.0/`.
    pub fn base_url(&self) -> Result<Url, UnknownRegion> {
        Url::parse(&format!("https://{}/v1.0/", self.domain())).map_err(|_| UnknownRegion(self.domain().to_owned()))
    }

    /// The region whose API domain this is (a documented one by name, any other `*.wonde.com` as a
    /// [`Region::Domain`]).
    pub fn from_domain(domain: &str) -> Result<Region, UnknownRegion> {
        let d = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        let known = [Region::Uk, Region::AustraliaNewZealand, Region::SouthAfrica, Region::UnitedStates];
        if let Some(r) = known.into_iter().find(|r| r.domain() == d) {
            return Ok(r);
        }
        let valid = d.ends_with(".wonde.com")
            && d.len() > ".wonde.com".len()
            && d.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if valid { Ok(Region::Domain(d)) } else { Err(UnknownRegion(domain.to_owned())) }
    }
}

impl FromStr for Region {
    type Err = UnknownRegion;

    /// Reads `uk`/`gb`/`world`, `anz`/`au`/`nz`/`ap-southeast-2`, `za`/`af-south-1`, `us`/`us-west-2` (any case),
    /// or an API domain ending in `.wonde.com`.
    fn from_str(text: &str) -> Result<Region, UnknownRegion> {
        match text.trim().to_ascii_lowercase().as_str() {
            "uk" | "gb" | "gbr" | "world" | "global" => Ok(Region::Uk),
            "anz" | "au" | "aus" | "nz" | "nzl" | "ap-southeast-2" => Ok(Region::AustraliaNewZealand),
            "za" | "zaf" | "af-south-1" => Ok(Region::SouthAfrica),
            "us" | "usa" | "us-west-2" => Ok(Region::UnitedStates),
            _ => Region::from_domain(text),
        }
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.domain())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_domains_and_names() {
        assert_eq!("uk".parse::<Region>().unwrap().domain(), "api.wonde.com");
        assert_eq!("ANZ".parse::<Region>().unwrap(), Region::AustraliaNewZealand);
        assert_eq!("za".parse::<Region>().unwrap().domain(), "api-af-south-1.wonde.com");
        assert_eq!("us".parse::<Region>().unwrap().domain(), "api-us-west-2.wonde.com");
        assert_eq!("api-ap-southeast-2.wonde.com".parse::<Region>().unwrap(), Region::AustraliaNewZealand);
        assert_eq!(
            "api-eu-west-1.wonde.com".parse::<Region>().unwrap(),
            Region::Domain("api-eu-west-1.wonde.com".into())
        );
        assert_eq!(Region::Uk.base_url().unwrap().as_str(), "https://api.wonde.com/v1.0/");
        assert!("mars".parse::<Region>().is_err());
        assert!("evil.example".parse::<Region>().is_err());
        assert!("wonde.com".parse::<Region>().is_err());
    }
}
