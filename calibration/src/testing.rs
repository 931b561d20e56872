//! Deterministic noise and test orientations for the tests (no random-number crate needed).

use nalgebra::Vector3;

/// Seeded Gaussian noise: SplitMix64 and the Box–Muller transform.
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        Noise(seed)
    }

    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        ((z >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// A standard normal draw.
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }

    /// A vector of independent normal draws with standard deviation `sigma`.
    pub fn vector(&mut self, sigma: f64) -> Vector3<f64> {
        Vector3::new(self.normal(), self.normal(), self.normal()) * sigma
    }
}

/// `n` unit vectors spread evenly over the sphere (a Fibonacci lattice).
pub fn sphere_directions(n: usize) -> Vec<Vector3<f64>> {
    let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    (0..n)
        .map(|k| {
            let z = 1.0 - 2.0 * (k as f64 + 0.5) / n as f64;
            let r = (1.0 - z * z).sqrt();
            let a = golden * k as f64;
            Vector3::new(r * a.cos(), r * a.sin(), z)
        })
        .collect()
}
