//! QR codes of Key URIs: SVG, PNG, PNG data URL and terminal text (feature `qr`).
//!
//! Every output encodes the secret, so each is returned zeroizing. The `qrcode` and `png`
//! crates keep intermediate buffers of their own that are not zeroized; treat the process
//! memory of a set-up page like the secret itself.

use base64ct::{Base64, Encoding};
use qrcode::render::{svg, unicode::Dense1x2};
use qrcode::{Color, EcLevel, QrCode};
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::uri::KeyUri;

/// Pixels per module in the PNG: 8 px keeps a version-10 code around 500 px wide.
const PNG_SCALE: usize = 8;
/// Quiet zone around the code, in modules: 4, what ISO/IEC 18004 requires.
const QUIET_MODULES: usize = 4;
/// Quiet zone around the code, in PNG pixels.
const QUIET_PX: usize = QUIET_MODULES * PNG_SCALE;
const DARK: u8 = 0;
const LIGHT: u8 = 255;
const DATA_URL_PREFIX: &str = "data:image/png;base64,";

impl KeyUri {
    /// The URI's QR code as an SVG document (`<?xml ...><svg ...>`), black on white, with its
    /// quiet zone, at least 256 user units wide.
    ///
    /// # Errors
    /// [`Error::QrTooLong`] if the URI does not fit in a QR code.
    pub fn qr_svg(&self) -> Result<Zeroizing<String>> {
        let code = self.qr_code()?;
        Ok(Zeroizing::new(
            code.render::<svg::Color<'_>>()
                .min_dimensions(256, 256)
                .quiet_zone(true)
                .build(),
        ))
    }

    /// The URI's QR code as a PNG: 8-bit greyscale, 8 pixels per module, with a 4-module quiet
    /// zone.
    ///
    /// # Errors
    /// [`Error::QrTooLong`] if the URI does not fit in a QR code.
    pub fn qr_png(&self) -> Result<Zeroizing<Vec<u8>>> {
        let code = self.qr_code()?;
        let modules = code.width();
        let colors = Zeroizing::new(
            code.to_colors()
                .into_iter()
                .map(|c| c == Color::Dark)
                .collect::<Vec<bool>>(),
        );
        let side_px = modules
            .checked_mul(PNG_SCALE)
            .and_then(|px| px.checked_add(QUIET_PX))
            .and_then(|px| px.checked_add(QUIET_PX))
            .ok_or(Error::QrTooLong)?;
        let side = u32::try_from(side_px).map_err(|_| Error::QrTooLong)?;

        let mut pixels = Zeroizing::new(Vec::with_capacity(side_px.saturating_mul(side_px)));
        let quiet_rows = QUIET_PX.saturating_mul(side_px);
        pixels.resize(quiet_rows, LIGHT);
        let mut row = Zeroizing::new(Vec::with_capacity(side_px));
        for modules_row in colors.chunks_exact(modules.max(1)) {
            row.clear();
            row.resize(QUIET_PX, LIGHT);
            for &dark in modules_row {
                let px = if dark { DARK } else { LIGHT };
                row.extend(core::iter::repeat_n(px, PNG_SCALE));
            }
            row.resize(side_px, LIGHT);
            for _ in 0..PNG_SCALE {
                pixels.extend_from_slice(&row);
            }
        }
        pixels.resize(side_px.saturating_mul(side_px), LIGHT);

        // Writing a well-formed greyscale image into a Vec cannot fail; should the encoder
        // refuse anyway, it can only be over the image's size, i.e. the data's length.
        let mut out = Zeroizing::new(Vec::with_capacity(pixels.len() / 16));
        let mut encoder = png::Encoder::new(&mut *out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|_| Error::QrTooLong)?;
        writer
            .write_image_data(&pixels)
            .map_err(|_| Error::QrTooLong)?;
        writer.finish().map_err(|_| Error::QrTooLong)?;
        Ok(out)
    }

    /// The PNG of [`KeyUri::qr_png`] as a `data:image/png;base64,...` URL, for an `<img src>`.
    ///
    /// # Errors
    /// [`Error::QrTooLong`] if the URI does not fit in a QR code.
    pub fn qr_png_data_url(&self) -> Result<Zeroizing<String>> {
        let png = self.qr_png()?;
        let mut base64 = Zeroizing::new(vec![0u8; Base64::encoded_len(&png)]);
        let encoded = Base64::encode(&png, &mut base64).map_err(|_| Error::QrTooLong)?;
        let mut url = Zeroizing::new(String::with_capacity(
            DATA_URL_PREFIX.len().saturating_add(encoded.len()),
        ));
        url.push_str(DATA_URL_PREFIX);
        url.push_str(encoded);
        Ok(url)
    }

    /// The URI's QR code as lines of Unicode half blocks (`▀`, `▄`, `█`, space), two module
    /// rows per line, with a 4-module quiet zone.
    ///
    /// Drawn for the usual light text on a dark background: dark modules are spaces and light
    /// ones are blocks, so the code shows dark on light as scanners expect.
    ///
    /// # Errors
    /// [`Error::QrTooLong`] if the URI does not fit in a QR code.
    pub fn qr_terminal(&self) -> Result<Zeroizing<String>> {
        let code = self.qr_code()?;
        Ok(Zeroizing::new(
            code.render::<Dense1x2>()
                .dark_color(Dense1x2::Light)
                .light_color(Dense1x2::Dark)
                .quiet_zone(true)
                .build(),
        ))
    }

    /// The QR code of [`KeyUri::to_uri`] at error-correction level M, the smallest version
    /// that fits.
    fn qr_code(&self) -> Result<QrCode> {
        let uri = self.to_uri();
        // Byte mode takes any data, so the only way to fail is length (`DataTooLong`).
        QrCode::with_error_correction_level(uri.as_bytes(), EcLevel::M)
            .map_err(|_| Error::QrTooLong)
    }
}
